"""Gradescope's ``results.json``: one scored entry per section, one unscored entry per case.

Hidden cases show only their verdict, never inputs, values or messages.
"""
from __future__ import annotations

import json

from grader.report_model import GradingReport, Verdict


def _status(verdict: Verdict) -> str:
    return "passed" if verdict == Verdict.passed else "failed"


def render(report: GradingReport) -> str:
    tests = []
    for section in report.sections:
        tests.append({"name": section.title, "score": section.points,
                      "max_score": section.max_points, "status": _status(section.status),
                      "output": section.message or section.status.value,
                      "visibility": "visible"})
        for case in section.cases:
            hidden = case.visibility == "hidden"
            tests.append({"name": f"{section.title}: {case.name}", "score": 0.0, "max_score": 0.0,
                          "status": _status(case.verdict),
                          "output": case.verdict.value if hidden else (case.message or case.verdict.value),
                          "visibility": "after_published" if hidden else "visible"})
    results = {"score": report.total, "output": "\n".join(report.warnings),
               "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    return json.dumps(results, indent=2)
