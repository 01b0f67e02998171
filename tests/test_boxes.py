"""Kinds of box: what they hold, what they refuse, what they leave."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy
import pytest

from grader.boxes import bwrap
from grader.boxes.base import runtime_files
from grader.options import GradingOptions, OptionsError, chosen_box
from grader.pipeline import GradingError, grade_submission
from grader.reports.model import GradingReport
from tests.grading_fixtures import REFERENCE_SOLUTION

UNIT = GradingOptions(skip_mnist=True)


def test_numpy_under_tmp_is_shown_in_the_boxs_read_only_root(monkeypatch):
    """CI installs into a virtual environment that may live under /tmp, which every box
    replaces by a fresh one."""
    site = Path(tempfile.mkdtemp(prefix="nn-site-", dir="/tmp"))
    try:
        source = Path(numpy.__file__).parent
        shutil.copytree(source, site / "numpy", symlinks=True)
        if source.with_name("numpy.libs").is_dir():
            shutil.copytree(source.with_name("numpy.libs"), site / "numpy.libs", symlinks=True)
        layout = dataclasses.replace(bwrap.python_layout(), numpy_dirs=tuple(
            str(path) for path in sorted(site.iterdir())))
        monkeypatch.setattr(bwrap, "python_layout", lambda: layout)
        assert grade_submission(REFERENCE_SOLUTION, UNIT).total == 4.0
    finally:
        shutil.rmtree(site)


def test_without_bubblewrap_the_grader_refuses_and_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)
    bwrap.bwrap_problem.cache_clear()
    try:
        with pytest.raises(GradingError, match="apt-get install bubblewrap"):
            grade_submission(REFERENCE_SOLUTION, UNIT)
    finally:
        bwrap.bwrap_problem.cache_clear()


def test_trusted_code_may_run_without_a_box_and_the_report_says_so():
    report = grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True, box="none"))
    assert report.total == 4.0 and report.sandbox.box == "none"
    assert not report.sandbox.network_cut and "NO SANDBOX" in report.sandbox.notes[0]


def test_the_runtime_comes_with_bytecode_the_box_takes_as_it_is(tmp_path):
    """Each runtime module goes with its code: the box's Python loads it without compiling
    and without comparing time stamps (the source here is a decoy), named where it is."""
    for name, data in runtime_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (tmp_path / "runtime" / "grader" / "boxes" / "supervisor.py").write_text("raise SystemExit(3)\n")
    shown = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, 'runtime'); "
         "import grader.boxes.supervisor as s; print(s.main.__code__.co_filename)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(tmp_path / "runtime" / "grader" / "boxes" / "supervisor.py")


def test_a_grader_killed_but_not_yet_reaped_counts_as_gone_for_its_containers():
    """A zombie's pid still has a /proc entry: its containers are stale all the same."""
    from grader.boxes.docker import running

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while Path(f"/proc/{ended.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert Path(f"/proc/{ended.pid}").exists() and not running(ended.pid)
    ended.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert running(alive.pid)
    finally:
        alive.kill()
        alive.wait()
    assert not running(ended.pid)


def test_the_box_is_named_by_box_and_its_old_names_still_work_for_one_release():
    assert [chosen_box(None), chosen_box("docker"), chosen_box(None, "process"),
            chosen_box(None, "docker"), chosen_box(None, "process", True),
            chosen_box(None, None, True), chosen_box("bwrap", "process"),
            chosen_box("none", None, True), chosen_box("docker", image="i")] == \
        ["bwrap", "docker", "bwrap", "docker", "none", "none", "bwrap", "none", "docker"]
    for arguments, match in [(("docker", None, True), "--box docker contradicts --no-sandbox"),
                             (("none", "docker"), "contradicts --backend docker"),
                             ((None, "docker", True), "a container is always a box"),
                             ((None, "vm"), "unknown backend"),
                             (("bwrap", None, False, "i"), "--image is only used with --box")]:
        with pytest.raises(OptionsError, match=match):
            chosen_box(*arguments)


def test_the_command_hides_the_old_names_and_refuses_contradictions():
    from typer.testing import CliRunner

    from grader.cli import app

    shown = CliRunner().invoke(app, ["grade", "--help"], env={"COLUMNS": "200"}).output
    assert "--box" in shown and "--backend" not in shown and "--no-sandbox" not in shown
    refused = CliRunner().invoke(app, ["grade", str(REFERENCE_SOLUTION), "--box", "docker",
                                       "--no-sandbox"])
    assert refused.exit_code == 2 and "--box docker contradicts --no-sandbox" in refused.output
    refused = CliRunner().invoke(app, ["batch", "class", "--out", "out", "--backend", "docker",
                                       "--box", "bwrap"])
    assert refused.exit_code == 2 and "contradicts --backend docker" in refused.output


def test_reports_written_with_a_backend_field_are_still_read():
    """Gradebooks keep every report's JSON: those from before ``--box`` name a backend too."""
    report = grade_submission(REFERENCE_SOLUTION, UNIT)
    old = json.loads(report.model_dump_json())
    old["sandbox"]["backend"] = "process"
    assert GradingReport.model_validate(old).sandbox == report.sandbox
