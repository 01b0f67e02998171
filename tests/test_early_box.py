"""``grader grade`` starts its unit box from the last grading's plan, and uses it only when
it was started and fed exactly as the grading would have: a plan never changes a grading."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.boxes import early_start as early_box
from grader.boxes.bwrap import bwrap_problem
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from tests.grading_fixtures import REFERENCE_SOLUTION, solution_with
from tests.support.processes import left_behind, uptime

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason="needs bubblewrap")
GRADE = ["grade", str(REFERENCE_SOLUTION), "--skip-mnist"]


@pytest.fixture
def plans(tmp_path, monkeypatch) -> Path:
    """A plan directory of this test's own, holding the plan of one grading of the cases."""
    monkeypatch.setenv(early_box.PLANS_VARIABLE, str(tmp_path / "plans"))
    grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True))
    return tmp_path / "plans"


def plan() -> dict:
    return json.loads(early_box.plan_file(GradingOptions().cases_dir).read_text())


def started(argv: list[str] = GRADE) -> early_box.EarlyBox:
    early_box.start(argv)
    early = early_box._started
    assert early is not None, "no early box was started"
    return early


def answered(early: early_box.EarlyBox, seconds: float = 60.0) -> None:
    """Wait until the early box asked for its hidden inputs and was answered by the thread."""
    deadline = time.monotonic() + seconds
    while "hidden" not in (early.running.fed or {}):
        assert time.monotonic() < deadline, "the early box was never answered"
        time.sleep(0.01)


def test_the_command_line_that_starts_an_early_box():
    """Read with the command's own declarations of its options (``grader.options``)."""
    cases = GradingOptions().cases_dir
    assert early_box.grade_arguments(GRADE) == (REFERENCE_SOLUTION, cases)
    assert early_box.grade_arguments(["grade", "s.py", "--cases", "c", "-v"]) == \
        (Path("s.py"), Path("c"))
    assert early_box.grade_arguments(["grade", "s.py", "--cases=c"]) == (Path("s.py"), Path("c"))
    assert early_box.grade_arguments(["grade", "--json", "r.json", "s.py", "--box", "bwrap",
                                      "--backend=process"]) == (Path("s.py"), cases)
    for argv in (["grade", "s.py", "--box", "docker"], ["grade", "s.py", "--box=none"],
                 ["grade", "s.py", "--box", "in-container"],
                 ["grade", "s.py", "--backend", "docker"], ["grade", "s.py", "--backend=docker"],
                 ["grade", "s.py", "--no-sandbox"], ["grade", "s.py", "--image", "i"],
                 ["grade", "s.py", "--box", "bwrap", "--no-sandbox"],
                 ["grade", "s.py", "--cases"], ["grade", "s.py", "t.py"], ["grade", "s.py", "-x"],
                 ["grade"], ["batch", "s.py"], ["grade", "s.py", "--help"], []):
        assert early_box.grade_arguments(argv) is None, argv


def test_the_early_box_and_the_command_declare_the_same_options():
    """One declaration per option: the typer command's options are those of the table the
    early box reads the command line with, names, values and all."""
    import typer.main

    from grader.cli import app
    from grader.options import FLAGS, GRADE_FLAGS

    (info,) = [info for info in app.registered_commands if info.callback.__name__ == "grade"]
    command = typer.main.get_command_from_info(info, pretty_exceptions_short=True,
                                               rich_markup_mode=None)
    declared = {tuple(param.opts): not param.is_flag for param in command.params
                if param.param_type_name == "option"}
    assert declared == {FLAGS[key].names: FLAGS[key].takes_value for key in GRADE_FLAGS}


def test_the_plan_names_inputs_and_holds_no_case_data(plans):
    written = plan()
    assert written["inputs"] and all(name.startswith("inputs/public/") and "_input/" in name
                                     for name in written["inputs"])
    assert set(written["later"]) == {"hidden"}
    assert all(name.startswith("inputs/hidden/") and "_input/" in name
               for name in written["later"]["hidden"])
    assert set(written) == {"scratch_mb", "uid_base", "uids", "packages", "seccomp", "request",
                            "limits", "inputs", "later"}


def test_an_early_box_answered_from_the_plan_grades_as_any_box(plans):
    early = started()
    answered(early)
    report = grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True))
    assert report.total == 4.0
    assert early.running.inner.killed is False, "the early box was discarded"
    assert early_box._started is None


def test_a_wrong_answer_is_graded_the_same_in_an_early_box(plans, tmp_path):
    broken = solution_with(tmp_path, "return np.maximum(inputs, 0.0)",
                           "return np.maximum(inputs, 0.0) + 1")
    plain = grade_submission(broken, GradingOptions(skip_mnist=True))
    early = started(["grade", str(broken), "--skip-mnist"])
    early_report = grade_submission(broken, GradingOptions(skip_mnist=True))
    assert early.running.inner.killed is False
    assert [(s.name, s.verdict, s.points) for s in early_report.sections] == \
        [(s.name, s.verdict, s.points) for s in plain.sections]
    assert early_report.sections[0].verdict == "wrong_answer"


@pytest.mark.parametrize("change", ["limits", "request", "hidden names"])
def test_an_outdated_plan_costs_a_box_not_a_verdict(plans, change):
    written = plan()
    if change == "limits":
        written["limits"]["memory_mb"] += 1
    elif change == "request":
        written["request"]["import_timeout_seconds"] += 1
    else:
        written["later"]["hidden"] = written["later"]["hidden"][1:]
    path = early_box.plan_file(GradingOptions().cases_dir)
    path.write_text(json.dumps(written))
    early = started()
    answered(early)
    report = grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True))
    assert report.total == 4.0
    assert early.running.inner.killed is True, "an outdated early box was used"
    assert plan() != written, "the grading did not write the plan again"


def test_a_plan_naming_expected_outputs_starts_no_box(plans):
    written = plan()
    expected = written["later"]["hidden"][0].replace("_input/", "_gt/")
    written["later"]["hidden"].append(expected)
    early_box.plan_file(GradingOptions().cases_dir).write_text(json.dumps(written))
    early_box.start(GRADE)
    assert early_box._started is None
    written["later"]["hidden"].pop()
    written["inputs"].append(written["later"]["hidden"][0])  # hidden with the public inputs
    early_box.plan_file(GradingOptions().cases_dir).write_text(json.dumps(written))
    early_box.start(GRADE)
    assert early_box._started is None


def test_an_early_box_of_another_grading_is_discarded(plans, tmp_path):
    other = tmp_path / "solution.py"
    shutil.copyfile(REFERENCE_SOLUTION, other)
    early = started(["grade", str(other), "--skip-mnist"])
    report = grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True))
    assert report.total == 4.0
    assert early.running.inner.killed is True


@pytest.mark.skipif(os.geteuid() != 0, reason="a box's own uid and cgroup are root's")
def test_a_command_that_fails_before_grading_leaves_no_box(plans):
    """typer refuses the option after the early box started: it is killed at exit. (Its
    uid's processes, not those another grading of the machine holds with that uid now.)"""
    started = uptime()
    command = subprocess.Popen([sys.executable, "-m", "grader", *GRADE, "--no-such-option"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, stderr = command.communicate(timeout=120)
    assert command.returncode == 2 and "No such option" in stderr
    uids = range(plan()["uid_base"], plan()["uid_base"] + plan()["uids"])
    assert not left_behind(uids, since=started)
    groups = Path("/sys/fs/cgroup/memory/nn-grader")
    assert not [group for group in (groups.iterdir() if groups.is_dir() else [])
                if group.name.startswith(f"box-{command.pid}-")]


def test_the_command_grades_the_same_with_and_without_a_plan(tmp_path):
    env = {**os.environ, early_box.PLANS_VARIABLE: str(tmp_path / "plans")}
    runs = []
    for _ in range(2):  # the first writes the plan, the second starts from it
        out = tmp_path / f"report{len(runs)}.json"
        subprocess.run([sys.executable, "-m", "grader", *GRADE, "--json", str(out)], env=env,
                       capture_output=True, timeout=300, check=True)
        runs.append(json.loads(out.read_text()))
    assert list((tmp_path / "plans").iterdir())
    first, second = ([(s["name"], s["verdict"], s["points"], len(s["cases"]))
                      for s in run["sections"]] for run in runs)
    assert first == second
    assert runs[1]["total"] == 4.0


def test_an_early_box_that_floods_its_output_is_read_no_further_ahead_than_a_cap(plans,
                                                                              tmp_path):
    flood = solution_with(tmp_path, "class ReLU(Layer):",
                          "import sys\nsys.stderr.write('x' * (64 << 20))\n\n\nclass ReLU(Layer):")
    early = started(["grade", str(flood), "--skip-mnist"])
    time.sleep(2)  # the box writes 64 MB at import: the thread keeps only about a MB of it
    assert early.running.pumped - early.running.taken <= early_box.MAX_BUFFERED_BYTES + (1 << 16)
    report = grade_submission(flood, GradingOptions(skip_mnist=True))
    assert report.total == 4.0


def test_the_command_loads_without_collections_and_grades_with_them(tmp_path):
    """``grader grade`` loads with Python's collector off and forks its parser first: the
    submission still runs with the collector on, and its changed given code is named."""
    probe = solution_with(tmp_path, "class ReLU(Layer):",
                          "import gc\nif not gc.isenabled():\n"
                          "    raise RuntimeError('no collector')\n\n\nclass ReLU(Layer):")
    env = {**os.environ, early_box.PLANS_VARIABLE: str(tmp_path / "plans")}
    for run in range(2):  # the second in an early box
        out = tmp_path / f"report{run}.json"
        subprocess.run([sys.executable, "-m", "grader", "grade", str(probe), "--skip-mnist",
                        "--json", str(out)], env=env, capture_output=True, timeout=300, check=True)
        report = json.loads(out.read_text())
        assert report["total"] == 4.0
        assert any("'import gc'" in warning for warning in report["warnings"])
