"""The grader's main job end to end: scores, reports, exit codes, policies."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

import pytest

from grader import pipeline
from grader.boxes.machine_share import GradingStopped
from grader.options import GradingOptions
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import GradingError, grade_or_failed_report, grade_submission
from grader.reports.model import ErrorCause, GradingReport, Verdict
from grader.sections.kinds import UnitSection
from grader.submission import SubmissionError
from reference import common
from tests.grading_fixtures import (
    REFERENCE_SOLUTION,
    TEMPLATE_SOLUTION,
    cases_with_limits,
    solution_with,
    with_header,
)
from tests.support.processes import descendants, in_group, wait_for_descendants, wait_until_gone

UNIT = GradingOptions(skip_mnist=True)


def grader_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def reference_report() -> GradingReport:
    return grade_submission(REFERENCE_SOLUTION, UNIT)


def test_reference_scores_four_of_five_with_mnist_skipped(reference_report):
    assert reference_report.total == 4.0
    assert reference_report.max_total == 5.0
    by_name = {section.name: section for section in reference_report.sections}
    assert by_name["mnist"].verdict == Verdict.skipped
    assert all(by_name[name].verdict == Verdict.passed
               for name in ("relu", "softmax", "dense", "crossentropy", "sgd", "momentum"))
    assert all(case.verdict == Verdict.passed for s in reference_report.sections for case in s.cases)
    assert {case.visibility for s in reference_report.sections for case in s.cases} == {"public", "hidden"}
    assert reference_report.warnings == []


def test_untouched_template_scores_zero():
    report = grade_submission(TEMPLATE_SOLUTION, UNIT)
    assert report.total == 0.0
    for section in report.sections[:6]:
        assert section.verdict == Verdict.wrong_answer
        assert re.search(r"expected an array of shape \(\d+(, \d+)*\) of floats, got None "
                         r"\(does the method return its result\?\)", section.message), \
            section.message
    assert report.warnings == []


def test_json_report_has_the_documented_fields(tmp_path):
    out = tmp_path / "report.json"
    result = grader_cli("grade", str(REFERENCE_SOLUTION), "--skip-mnist", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["total"] == 4.0 and report["max_total"] == 5
    assert [s["name"] for s in report["sections"]] == [
        "relu", "softmax", "dense", "crossentropy", "sgd", "momentum", "mnist"]
    for section in report["sections"]:
        assert {"name", "points", "max_points", "verdict", "cases"} <= section.keys()
    assert all("message" in case for case in report["sections"][0]["cases"])
    GradingReport.model_validate(report)


def test_reports_stored_before_verdict_had_its_name_still_load(reference_report):
    """The batch store and the course site's database hold reports whose sections say
    ``status``: they read as they were, and are written back with ``verdict``."""
    stored = json.loads(reference_report.model_dump_json())
    for section in stored["sections"]:
        section["status"] = section.pop("verdict")
    old = GradingReport.model_validate_json(json.dumps(stored))
    assert old == reference_report
    assert '"status"' not in old.model_dump_json() and '"verdict": "passed"' in \
        old.model_dump_json(indent=1)


def test_gradescope_and_junit_reports_hide_hidden_case_details(tmp_path):
    broken = solution_with(tmp_path, "return np.maximum(inputs, 0.0)", "return np.abs(inputs)")
    gradescope, junit = tmp_path / "results.json", tmp_path / "junit.xml"
    result = grader_cli("grade", str(broken), "--skip-mnist", "--gradescope", str(gradescope),
                        "--junit", str(junit))
    assert result.returncode == 0, result.stderr
    results = json.loads(gradescope.read_text())
    assert results["score"] == 3.5
    assert sum(test["max_score"] for test in results["tests"]) == 4.0  # MNIST skipped
    hidden = [t for t in results["tests"] if ": hidden case " in t["name"]]
    hidden_cases = sum(len(common.load_cases(DEFAULT_CASES_DIR / "hidden", section))
                       for section in common.UNIT_SECTIONS)
    assert len(hidden) == hidden_cases == 19 and all(t["output"] in {v.value for v in Verdict} for t in hidden)
    relu_public = next(t for t in results["tests"] if t["name"].endswith("relu_2d"))
    assert "expected" in relu_public["output"] and relu_public["status"] == "failed"
    hidden_names = [case.name for visibility in ["hidden"] for section in common.UNIT_SECTIONS
                    for case in common.load_cases(DEFAULT_CASES_DIR / visibility, section)]
    text = gradescope.read_text() + junit.read_text()
    assert not [name for name in hidden_names if name in text]
    suites = ElementTree.parse(junit).getroot()
    relu = next(suite for suite in suites if suite.get("name") == "relu")
    assert relu.get("failures") == "5"
    assert suites.find("testsuite[@name='mnist']/testcase/skipped") is not None


def test_schema_command_prints_the_report_schema():
    result = grader_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert {"total", "max_total", "sections"} <= set(schema["properties"])


@pytest.mark.parametrize("args, message", [
    (["grade", "no/such/solution.py"], "does not exist"),
    (["grade", "."], "is not a file"),
    (["grade", str(REFERENCE_SOLUTION), "--cases", "no/such/dir"], "does not exist"),
])
def test_grader_that_cannot_grade_exits_nonzero_with_a_message(args, message):
    result = grader_cli(*args)
    assert result.returncode == 2
    assert message in result.stdout
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("cause", list(ErrorCause))
def test_every_report_is_written_when_nothing_can_be_graded(tmp_path, cause):
    submission, cases = tmp_path / "photo.png", DEFAULT_CASES_DIR
    submission.write_bytes(b"\x89PNG\r\n\x1a\n")
    if cause == ErrorCause.grader:
        submission = REFERENCE_SOLUTION
        cases = cases_with_limits(tmp_path / "cases", "")
        (cases / "hidden" / "00_unittest_relu_gt" / "relu_4d.npz").unlink()
    paths = {name: tmp_path / name for name in ("report.json", "results.json", "junit.xml")}
    result = grader_cli("grade", str(submission), "--cases", str(cases), "--json",
                        str(paths["report.json"]), "--gradescope", str(paths["results.json"]),
                        "--junit", str(paths["junit.xml"]))
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    report = GradingReport.model_validate_json(paths["report.json"].read_text())
    assert report.total == 0 and report.error_cause == cause
    assert {section.verdict for section in report.sections} == {Verdict.not_run}
    results = json.loads(paths["results.json"].read_text())
    junit = ElementTree.parse(paths["junit.xml"]).getroot()
    error = junit.find("testsuite[@name='submission']/testcase/error").text
    assert results["score"] == 0 and results["output"].startswith("Not graded: ")
    if cause == ErrorCause.submission:
        assert "photo.png is a PNG image" in results["output"] and "photo.png is a PNG" in error
    else:  # the reason names a hidden case: only the instructor's report holds it
        assert "relu_4d" in report.error
        assert "relu_4d" not in paths["results.json"].read_text() + error
        assert "problem on its side" in error


@pytest.mark.parametrize("raised, cause, said", [
    (SubmissionError("not Python code"), ErrorCause.submission, "not Python code"),
    (GradingError("no box"), ErrorCause.grader, "no box"),
    (KeyError("oops"), ErrorCause.grader, "internal error of the grader: KeyError: 'oops'\n"),
])
def test_whatever_fails_a_grading_gives_a_report_under_its_label(monkeypatch, raised, cause,
                                                                   said):
    def failing(*args: object) -> GradingReport:
        raise raised

    monkeypatch.setattr(pipeline, "grade_submission", failing)
    report = grade_or_failed_report(REFERENCE_SOLUTION, UNIT, label="alice")
    assert (report.submission, report.error_cause, report.total) == ("alice", cause, 0.0)
    assert report.error.startswith(said)
    assert ("in failing" in report.error) == isinstance(raised, KeyError)  # a bug's last frames


def test_a_stopped_grading_has_no_report(monkeypatch):
    def stopped(*args: object) -> GradingReport:
        raise GradingStopped()

    monkeypatch.setattr(pipeline, "grade_submission", stopped)
    with pytest.raises(GradingStopped):
        grade_or_failed_report(REFERENCE_SOLUTION, UNIT)


def test_broken_test_cases_are_reported_not_crashed(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "")
    (cases / "hidden" / "02_unittest_dense_gt" / "dense_expanding.npz").unlink()
    with pytest.raises(GradingError, match="dense_expanding.npz are missing"):
        grade_submission(REFERENCE_SOLUTION, GradingOptions(cases_dir=cases, skip_mnist=True))
    (cases / "grading.toml").write_text("[unit]\ntimeout_seconds = -1\n")
    result = grader_cli("grade", str(REFERENCE_SOLUTION), "--cases", str(cases))
    assert result.returncode == 2 and "timeout_seconds" in result.stdout


def test_changed_given_code_is_a_warning_naming_the_line(tmp_path):
    modified = solution_with(tmp_path, "        self.output_shape = (units,)\n",
                             "        self.output_shape = (units,)\n        self.debug = True\n")
    added_line = modified.read_text().splitlines().index("        self.debug = True") + 1
    report = grade_submission(modified, UNIT)
    assert report.total == 4.0
    assert len(report.warnings) == 1 and f"at line {added_line}:" in report.warnings[0]


def test_changed_given_code_fails_when_the_policy_says_so(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "[policy]\nfail_on_modified_code = true\n")
    modified = solution_with(tmp_path, "            initializer=np.zeros\n",
                             "            initializer=np.ones\n")
    report = grade_submission(modified, GradingOptions(cases_dir=cases, skip_mnist=True))
    assert report.total == 0.0
    assert any("fail_on_modified_code" in warning for warning in report.warnings)
    assert {section.verdict for section in report.sections[:6]} == {Verdict.modified_code}
    assert report.sections[0].message.startswith("given code was modified: given code changed")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl_c", "kill_9"])
def test_a_stopped_grader_leaves_no_box_running(tmp_path, stop):
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 60\n")
    looping = solution_with(tmp_path, "return np.maximum(inputs, 0.0)", "while True: pass")
    grading = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(looping), "--cases",
                                str(cases), "--skip-mnist"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    box = wait_for_descendants(grading.pid, 3)  # the held shell is bwrap, its box, the section
    time.sleep(0.5)
    box |= descendants(grading.pid)
    started = time.monotonic()
    grading.send_signal(stop)
    grading.wait(timeout=20)
    assert time.monotonic() - started < 10
    assert wait_until_gone(box) == set(), "box processes outlived the grader"


def test_sections_judged_while_the_box_runs_are_judged_as_at_its_end(tmp_path, monkeypatch):
    mixed = solution_with(tmp_path, "return np.maximum(inputs, 0.0)", "return inputs")
    mixed.write_text(mixed.read_text().replace("return parameter - updater.inertia",
                                               "return parameter - 1 / 0"))
    judged_early = []
    judge_ended = UnitSection.judge_ended
    monkeypatch.setattr(UnitSection, "judge_ended",
                        lambda self, runs: judged_early.append(self.name) or judge_ended(self, runs))
    early = grade_submission(mixed, GradingOptions(skip_mnist=True))
    assert len(judged_early) >= 3  # as their runs ended
    monkeypatch.setattr(UnitSection, "judge_ended", lambda self, runs: None)
    late = grade_submission(mixed, GradingOptions(skip_mnist=True))

    def verdicts(report: GradingReport) -> list:
        return [(s.name, s.verdict, s.points, s.message, s.output_tails,
                 [(c.name, c.visibility, c.verdict, c.message) for c in s.cases])
                for s in report.sections]
    assert verdicts(early) == verdicts(late)
    assert [s.verdict for s in early.sections[:6]] == [
        Verdict.wrong_answer, Verdict.passed, Verdict.passed, Verdict.passed, Verdict.passed,
        Verdict.exception]


def test_a_grading_leaves_nothing_in_its_process_group():
    """Zombies included: bubblewrap's probe once left an orphan that some inits never reap."""
    grading = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(REFERENCE_SOLUTION),
                                "--skip-mnist"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    assert grading.wait(timeout=300) == 0
    assert in_group(grading.pid) == set()


@pytest.mark.parametrize("tail", ["x = " + "-" * 100000 + "1", "x = a" + ".b" * 200000,
                                  "x = a" + ".b" * 1500, "import matplotlib" + ".b" * 200000],
                         ids=["100000_minus_signs", "200000_attributes", "1500_attributes",
                              "200000_part_import"])
def test_code_too_big_or_deep_for_pythons_parser_fails_its_import_not_the_grader(tmp_path, tail):
    path = tmp_path / "solution.py"
    path.write_text(REFERENCE_SOLUTION.read_text(encoding="utf-8") + "\n" + tail + "\n")
    report = grade_submission(path, UNIT)
    unit = [section for section in report.sections if section.verdict != Verdict.skipped]
    verdicts = {section.verdict for section in unit}  # one failure, of the one import
    assert len(verdicts) == 1 and verdicts <= {Verdict.import_error, Verdict.memory_limit}
    assert report.total == 0 and all("solution.py" in section.message for section in unit)


def test_missing_class_is_named_and_costs_only_its_section(tmp_path):
    renamed = solution_with(tmp_path, "class SGDMomentum(Optimizer):", "class SGDWithMomentum(Optimizer):")
    report = grade_submission(renamed, UNIT)
    momentum = report.sections[5]
    assert momentum.verdict == Verdict.missing and momentum.points == 0.0
    assert "module 'solution' has no attribute 'SGDMomentum'" in momentum.message
    assert report.total == 3.5


def test_the_command_builds_only_the_verb_it_runs_and_still_lists_every_verb():
    from grader.cli import app, for_verb

    assert [info.callback.__name__ for info in for_verb(["grade", "x.py"]).registered_commands] \
        == ["grade"]
    assert for_verb(["--help"]) is app and for_verb([]) is app and for_verb(["nope"]) is app
    listed = grader_cli("--help").stdout
    assert all(verb in listed for verb in ("grade", "batch", "audit", "export", "calibrate"))
    assert "Usage: grader batch" in grader_cli("batch", "--help").stdout
    assert "Usage: grader export gradescope" in grader_cli("export", "gradescope", "--help").stdout


def test_junit_reports_a_failed_import_as_an_error_of_every_unit_section(tmp_path):
    """Its cases were not run (skipped in JUnit): without an error of the section's own a CI
    view would show no failure at all."""
    from grader.reports import junit as render_junit

    report = grade_submission(with_header(tmp_path, "raise RuntimeError('broken at import')\n"),
                              UNIT)
    suites = {suite.get("name"): suite
              for suite in ElementTree.fromstring(render_junit.render(report)).iter("testsuite")}
    for name in ("relu", "softmax", "dense", "crossentropy", "sgd", "momentum"):
        errors = suites[name].findall("testcase/error")
        assert suites[name].get("errors") == "1" and len(errors) == 1
        assert errors[0].get("type") == "import_error" and "broken at import" in errors[0].text
    assert suites["mnist"].get("errors") == "0"
