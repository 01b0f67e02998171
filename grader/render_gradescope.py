"""Gradescope's ``results.json``: a scored entry per section, an unscored entry per case.

Built from the student view: hidden cases show only their verdict.
"""
from __future__ import annotations

import json

from grader import student_view
from grader.report_model import GradingReport, Verdict


def _status(verdict: Verdict) -> str:
    return "passed" if verdict == Verdict.passed else "failed"


def render(report: GradingReport) -> str:
    tests = []
    for section in report.sections:
        output = student_view.section_message(section) or section.status.value
        printed = student_view.section_output(section)
        if printed.strip() and section.status != Verdict.passed:
            output += "\n\nlast output of the submission:\n" + printed.strip()[-4000:]
        tests.append({"name": section.title, "score": section.points,
                      "max_score": section.max_points, "status": _status(section.status),
                      "output": output, "visibility": "visible"})
        for case in student_view.cases(section):
            tests.append({"name": f"{section.title}: {case.label}", "score": 0.0,
                          "max_score": 0.0, "status": _status(case.verdict),
                          "output": case.message or case.verdict.value,
                          "visibility": "visible"})
    error = student_view.error_message(report)
    summary = [f"Not graded: {error}"] if error else []
    results = {"score": report.total, "output": "\n".join(summary + report.warnings),
               "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    return json.dumps(results, indent=2)
