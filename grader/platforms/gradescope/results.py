"""Gradescope's ``results.json``: a scored entry per section, an unscored entry per case.

A skipped section (``--skip-mnist``) is an unscored entry that says so, never a failure.
Built from the student view: hidden cases show only their verdict. The MNIST accuracy
goes to the leaderboard; every test carries its time in ``extra_data.execution_time``
(Gradescope's test fields have no time of their own), the whole grading in
``execution_time``.
"""
from __future__ import annotations

import json

from grader.reports import student_view
from grader.reports.model import GradingReport, SectionResult, Verdict


def _status(verdict: Verdict) -> str:
    return "passed" if verdict == Verdict.passed else "failed"


def _skipped_test(section: SectionResult) -> dict:
    """Gradescope knows only passed and failed, and shows a test short of its max_score as
    failed: a skipped section is a test worth nothing that says it was skipped."""
    return {"name": f"{section.title} (skipped)", "score": 0.0, "max_score": 0.0,
            "output": f"{student_view.section_message(section)}: not graded, not counted in "
                      f"the score (worth {section.max_points:g} when graded)",
            "visibility": "visible", "extra_data": {"execution_time": 0.0, "skipped": True}}


def render(report: GradingReport) -> str:
    tests = []
    for section in report.sections:
        if section.verdict == Verdict.skipped:
            tests.append(_skipped_test(section))
            continue
        output = student_view.section_message(section) or section.verdict.value
        printed = student_view.section_output(section)
        if printed.strip() and section.verdict != Verdict.passed:
            output += "\n\nlast output of the submission:\n" + printed.strip()[-4000:]
        tests.append({"name": section.title, "score": section.points,
                      "max_score": section.max_points, "status": _status(section.verdict),
                      "output": output, "visibility": "visible",
                      "extra_data": {"execution_time": round(section.seconds, 3)}})
        for case in student_view.cases(section):
            tests.append({"name": f"{section.title}: {case.label}", "score": 0.0,
                          "max_score": 0.0, "status": _status(case.verdict),
                          "output": case.message or case.verdict.value,
                          "visibility": "visible",
                          "extra_data": {"execution_time": round(case.seconds, 3)}})
    error = student_view.error_message(report)
    summary = [f"Not graded: {error}"] if error else []
    results = {"score": report.total, "execution_time": max(1, round(report.seconds)),
               "output": "\n".join(summary + report.warnings),
               "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    accuracy = next((section.mnist.accuracy for section in report.sections
                     if section.mnist is not None and section.mnist.accuracy is not None), None)
    if accuracy is not None:
        results["leaderboard"] = [{"name": "MNIST accuracy", "value": round(accuracy, 4),
                                   "order": "desc"}]
    return json.dumps(results, indent=2)
