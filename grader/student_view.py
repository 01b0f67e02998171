"""What a student may see of a report: a hidden case shows its pass/fail and verdict only.

No name, no description, no message, no exception text, no values, no output
of a hidden run: the submission controls exception texts and output (it could
print its inputs), so anything from a hidden case could leak the hidden data.
Every student-facing renderer (Gradescope, JUnit, ``--for-students``) goes
through here.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.report_model import SectionResult, Verdict


@dataclass(frozen=True)
class StudentCase:
    label: str        # the case's name, or "hidden case 3"
    hidden: bool
    verdict: Verdict
    message: str      # empty for hidden cases


def section_message(section: SectionResult) -> str:
    """The section's first failure, unless it comes from a hidden case."""
    if section.failure_scope == "hidden":
        return f"a hidden case failed: {section.status.value}"
    return section.message


def section_output(section: SectionResult) -> str:
    """What the submission printed, from runs that saw public inputs only."""
    return section.output_tails.get("public", "")


def cases(section: SectionResult) -> list[StudentCase]:
    shown, hidden = [], 0
    for case in section.cases:
        if case.visibility == "hidden":
            hidden += 1
            shown.append(StudentCase(f"hidden case {hidden}", True, case.verdict, ""))
        else:
            shown.append(StudentCase(case.name, False, case.verdict, case.message))
    return shown
