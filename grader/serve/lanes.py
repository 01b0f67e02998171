"""The two lanes a submission is graded in, and their reports made one.

Lane ``unit`` grades the six unit sections (seconds), lane ``mnist`` the training
(minutes), so unit feedback never waits behind a training. A submission's report takes
each section from the lane that grades it; a lane not done yet leaves its sections
``skipped`` (not scored, not failed). The queue records this merged report when a lane
finishes, the pages show it: both read it from here.
"""
from __future__ import annotations

from grader.serve.bridge import MNIST_SECTION, ErrorCause, GradingReport, Verdict

UNIT, MNIST = "unit", "mnist"
LANES = (UNIT, MNIST)
LANE_OF = {True: MNIST, False: UNIT}  # is the section MNIST?


def merge(reports: dict[str, GradingReport]) -> GradingReport | None:
    """One report from the lanes' reports (by lane): each section from its own lane."""
    if not reports:
        return None
    base = reports.get(UNIT) or next(iter(reports.values()))
    if base.error is not None and base.error_cause == ErrorCause.submission:
        return base  # what was sent cannot be graded: both lanes say the same
    sections = []
    for section in base.sections:
        lane = reports.get(LANE_OF[section.name == MNIST_SECTION])
        mine = next((found for found in lane.sections if found.name == section.name), None) \
            if lane else None
        if mine is None:
            mine = section.model_copy(update={
                "verdict": Verdict.skipped, "points": 0.0,
                "message": "being graded: the result shows here when it is ready"})
        elif lane.error is not None and lane is not base:  # that lane's grader failed
            mine = mine.model_copy(update={"message": lane.error})
        sections.append(mine)
    warnings = list(dict.fromkeys(w for report in reports.values() for w in report.warnings))
    return base.model_copy(update={
        "sections": sections, "total": sum(section.points for section in sections),
        "warnings": warnings,
        "seconds": round(sum(report.seconds for report in reports.values()), 3)})
