"""``GRADER_TESTS_REQUIRE_ALL=1`` (``.ci/run``): a skip fails, naming what is missing, unless
the test marks that skip legitimately conditional (``tests/support/require_all.py``). Tiny
test files run by pytest in a subprocess, with the plugin."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from grader.paths import REPO_DIR
from tests.support.require_all import VARIABLE

SKIPS = '''
import pytest


def test_runs():
    pass


@pytest.mark.skipif(True, reason="npm not installed")
def test_needs_npm():
    pass


def test_needs_an_engine():
    pytest.skip("the Docker engine is not running")


@pytest.mark.may_skip("x86 instruction sets")
def test_for_x86_only():
    pytest.skip("x86 instruction sets")


@pytest.mark.may_skip("x86 instruction sets")
def test_for_x86_only_that_misses_a_browser():
    pytest.skip("apt-get install chromium-headless-shell")


@pytest.mark.xfail(reason="a known bug")
def test_of_a_known_bug():
    assert False
'''
MODULE_SKIP = '''
import pytest

pytest.importorskip("playwright_of_another_machine")


def test_in_the_browser():
    pass
'''


def run_pytest(tmp_path: Path, source: str, required: bool) -> tuple[int, dict, str]:
    """pytest on ``source`` with the plugin: its exit code, each test's outcome and message
    (from its JUnit XML), and what it printed."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_tiny.py").write_text(source)
    junit = tmp_path / "junit.xml"
    env = {key: value for key, value in os.environ.items() if key != VARIABLE}
    if required:
        env[VARIABLE] = "1"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.support.require_all",
                           "-p", "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"),
                           "--rootdir", str(tmp_path), f"--junitxml={junit}", "-rA",
                           str(tmp_path / "test_tiny.py")],
                          cwd=REPO_DIR, env=env, capture_output=True, text=True, timeout=120)
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        found = [child for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name")] = (found[0].tag, (found[0].get("message") or "") +
                                      (found[0].text or "")) if found else ("passed", "")
    return done.returncode, outcomes, done.stdout + done.stderr


def test_without_the_variable_skips_are_skips(tmp_path):
    code, outcomes, output = run_pytest(tmp_path, SKIPS, required=False)
    assert code == 0, output
    assert {name: outcome for name, (outcome, _) in outcomes.items()} == {
        "test_runs": "passed", "test_needs_npm": "skipped", "test_needs_an_engine": "skipped",
        "test_for_x86_only": "skipped", "test_for_x86_only_that_misses_a_browser": "skipped",
        "test_of_a_known_bug": "skipped"}


def test_with_the_variable_a_missing_requirement_fails_the_run_and_is_named(tmp_path):
    code, outcomes, output = run_pytest(tmp_path, SKIPS, required=True)
    assert code == 1, output
    assert {name: outcome for name, (outcome, _) in outcomes.items()} == {
        "test_runs": "passed",
        "test_needs_npm": "error",  # a skipif skips in the set-up: it fails there
        "test_needs_an_engine": "failure",
        "test_for_x86_only": "skipped",  # marked: legitimately conditional
        "test_for_x86_only_that_misses_a_browser": "failure",  # marked for another reason
        "test_of_a_known_bug": "skipped"}  # an expected failure is no skip
    for name, missing in (("test_needs_npm", "npm not installed"),
                          ("test_needs_an_engine", "the Docker engine is not running"),
                          ("test_for_x86_only_that_misses_a_browser",
                           "apt-get install chromium-headless-shell")):
        assert f"{VARIABLE}=1: skipped, and every suite must run here: {missing}" in \
            outcomes[name][1], outcomes[name]


def test_with_the_variable_a_module_skipped_at_import_fails_the_run(tmp_path):
    code, _, output = run_pytest(tmp_path, MODULE_SKIP, required=True)
    assert code != 0, output
    assert "could not import 'playwright_of_another_machine'" in output, output
    assert f"{VARIABLE}=1: skipped, and every suite must run here" in output, output
