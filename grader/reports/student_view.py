"""What a student may see of a report: a hidden case shows its pass/fail and verdict only.

No name, no description, no message, no exception text, no values, no output
of a hidden run: the submission controls exception texts and output (it could
print its inputs), so anything from a hidden case could leak the hidden data.
Every student-facing renderer (Gradescope, JUnit, ``--for-students``) goes
through here.
"""
from __future__ import annotations

from dataclasses import dataclass

from grader.reports.model import ErrorCause, GradingReport, SectionResult, Verdict


@dataclass(frozen=True)
class StudentCase:
    label: str        # the case's name, or "hidden case 3"
    hidden: bool
    verdict: Verdict
    message: str      # empty for hidden cases
    seconds: float    # how long it took (no data of the case)


GRADER_PROBLEM = ("the grader could not grade this submission because of a problem on its "
                  "side, not yours; your instructor can see why")


def error_message(report: GradingReport) -> str | None:
    """Why nothing was graded: the reason when it is the submission's, else a general word."""
    if report.error is None:
        return None
    return report.error if report.error_cause == ErrorCause.submission else GRADER_PROBLEM


def section_message(section: SectionResult) -> str:
    """The section's first failure, unless it comes from a hidden case."""
    if section.failure_scope == "hidden":
        return f"a hidden case failed: {section.verdict.value}"
    return section.message


def section_output(section: SectionResult) -> str:
    """What the submission printed, from runs that saw public inputs only."""
    return section.output_tails.get("public", "")


def cases(section: SectionResult) -> list[StudentCase]:
    shown, hidden = [], 0
    for case in section.cases:
        if case.visibility == "hidden":
            hidden += 1
            shown.append(StudentCase(f"hidden case {hidden}", True, case.verdict, "",
                                     case.seconds or 0.0))
        else:
            shown.append(StudentCase(case.name, False, case.verdict, case.message,
                                     case.seconds or 0.0))
    return shown
