"""``GRADER_TESTS_REQUIRE_ALL=1``: a skipped test fails (``.ci/run`` sets it).

CI installs everything the suites need (bubblewrap, npm, Chromium, a Docker engine and the
grading images), so there a skip means something is missing, and a suite whose every test
skipped for it would pass. The failure says what the skip said was missing. A skip that is
legitimately conditional (another architecture, another cgroup version, a runner a test does
not apply to) is marked with what its reason says: ``@pytest.mark.may_skip("x86 instruction
sets")`` allows the skips whose reason contains that text, and no other.

A pytest plugin: ``tests/conftest.py`` imports its hooks (``-p tests.support.require_all``
loads it elsewhere).
"""
from __future__ import annotations

import os

import pytest

VARIABLE = "GRADER_TESTS_REQUIRE_ALL"
MARKER = ("may_skip(reason): a skip whose reason contains this text is legitimately "
          f"conditional: allowed even with {VARIABLE}=1")


def required() -> bool:
    return os.environ.get(VARIABLE, "") not in ("", "0")


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """What a skip's report says (``Skipped: ...`` from ``pytest.skip`` or a ``skipif``)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def failure(reason: str) -> str:
    return (f"{VARIABLE}=1: skipped, and every suite must run here: {reason}\n"
            "(install what it names; a skip that is legitimately conditional is marked "
            "@pytest.mark.may_skip(\"<text of its reason>\"))")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not required() or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if any(marker.args and marker.args[0] in reason for marker in item.iter_markers("may_skip")):
        return
    report.outcome = "failed"
    report.longrepr = failure(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A whole module skipped (``pytest.skip(allow_module_level=True)``, ``importorskip``)."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if required() and report.skipped:
        report.outcome = "failed"
        report.longrepr = failure(skip_reason(report))
