"""What a submission's page and the gradebook show: the two lanes' results as one report.

The unit lane grades the six unit sections (MNIST skipped), the MNIST lane only MNIST;
a submission's report takes each section from the lane that grades it, and a lane still
running leaves its sections ``skipped`` (not scored, not failed) until it is done.
Which submission counts: the student's latest one received by the deadline (their
extension, if they have one); submissions after it are graded for feedback only. With
no deadline, the latest one counts.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel

from grader.serve import course, queue
from grader.serve.bridge import (MNIST_SECTION, ErrorCause, GradebookRow, GradingReport,
                                 Section, Verdict, gradebook_row)
from grader.serve.db import Transaction

LANE_OF = {True: queue.MNIST, False: queue.UNIT}  # is the section MNIST?


class LaneState(BaseModel):
    lane: str
    state: str                # queued, running, done, superseded
    position: int | None = None  # in its lane's queue, when queued


class SubmissionView(BaseModel):
    id: int
    student: str
    file_name: str
    sha256: str
    size: int
    received: float
    late: bool
    counts: bool = False
    lanes: list[LaneState]
    report: GradingReport | None = None

    @property
    def finished(self) -> bool:
        return all(lane.state in (queue.DONE, queue.SUPERSEDED) for lane in self.lanes)


def merge(reports: dict[str, GradingReport]) -> GradingReport | None:
    """One report from the lanes' reports (by lane): each section from its own lane."""
    if not reports:
        return None
    base = reports.get(queue.UNIT) or next(iter(reports.values()))
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


def views(tx: Transaction, rows: list[dict]) -> list[SubmissionView]:
    """The submissions of ``rows`` (newest first, as ``course.submissions_of`` gives them)
    with their lanes, merged reports and which one counts for its student."""
    values = course.settings(tx)
    members = {member.id: member for member in course.students(tx)}
    lanes = queue.lanes_of(tx, [row["id"] for row in rows])
    found, counted = [], set()
    for row in rows:
        due = course.due(values, members[row["student"]])
        late = due is not None and row["received"] > due
        states, reports = [], {}
        for lane in queue.LANES:
            entry = lanes[row["id"]].get(lane)
            if entry is None:
                continue
            where = queue.position(tx, entry["id"], lane) if entry["state"] == queue.QUEUED \
                else None
            states.append(LaneState(lane=lane, state=entry["state"], position=where))
            if entry["report"]:
                reports[lane] = GradingReport.model_validate_json(entry["report"])
        view = SubmissionView(**row, late=late, lanes=states, report=merge(reports))
        if not late and row["student"] not in counted:
            view.counts = True
            counted.add(row["student"])
        found.append(view)
    return found


def counting(tx: Transaction) -> dict[str, SubmissionView]:
    """Each student's submission that counts, by student."""
    return {view.student: view for view in views(tx, course.submissions_of(tx)) if view.counts}


def gradebook(tx: Transaction, sections: Sequence[Section]
              ) -> tuple[list[GradebookRow], dict[str, SubmissionView]]:
    """A row per student from the submission that counts (the gradebook of ``grader
    batch``'s own rows, a cell per section of ``sections``), and that submission by student."""
    counted = counting(tx)
    book = []
    for member in course.students(tx):
        view = counted.get(member.id)
        book.append(gradebook_row(member.id, view.report if view else None, sections))
    return book, counted


def export_json(book: list[GradebookRow]) -> str:
    listed = [row.model_dump(exclude={"report", "feedback"}) for row in book]
    return json.dumps(listed, indent=2, ensure_ascii=False) + "\n"
