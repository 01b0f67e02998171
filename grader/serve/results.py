"""What a submission's page and the gradebook show: the two lanes' results as one report.

The unit lane grades the six unit sections (MNIST skipped), the MNIST lane only MNIST;
a submission's report is their merge (``lanes.merge``). The live pages merge the jobs'
reports; ``recorded_gradebook`` reads the merges the queue recorded in the gradings table
``grader batch`` shares, for ``grader gradebook --site``: the same rows, once every lane
has finished. Which submission counts: the student's latest one received by the deadline
(their extension, if they have one); submissions after it are graded for feedback only.
With no deadline, the latest one counts.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel

from grader.serve import course, queue
from grader.serve.bridge import GradebookRow, GradingReport, Section, gradebook_row, latest_report
from grader.serve.db import Transaction
from grader.serve.lanes import merge


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


def views(tx: Transaction, rows: list[dict]) -> list[SubmissionView]:
    """The submissions of ``rows`` (newest first, as ``course.submissions_of`` gives them)
    with their lanes, merged reports and which one counts for its student."""
    late, counted = which_count(tx, rows)
    lanes = queue.lanes_of(tx, [row["id"] for row in rows])
    found = []
    for row in rows:
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
        found.append(SubmissionView(**row, late=row["id"] in late, lanes=states,
                                    report=merge(reports),
                                    counts=counted.get(row["student"]) is row))
    return found


def which_count(tx: Transaction, rows: list[dict]) -> tuple[set[int], dict[str, dict]]:
    """Of ``rows`` (newest first): the late ones' ids, and by student the one that counts."""
    values = course.settings(tx)
    members = {member.id: member for member in course.students(tx)}
    late: set[int] = set()
    counted: dict[str, dict] = {}
    for row in rows:
        due = course.due(values, members[row["student"]])
        if due is not None and row["received"] > due:
            late.add(row["id"])
        else:
            counted.setdefault(row["student"], row)
    return late, counted


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


def recorded_gradebook(tx: Transaction, sections: Sequence[Section]
                       ) -> tuple[list[GradebookRow], dict[str, str]]:
    """``gradebook``'s rows from the gradings table: each student's newest recorded grading
    of the file that counts; and the code of those files by student (``code_of``)."""
    _, counted = which_count(tx, course.submissions_of(tx))
    book = []
    for member in course.students(tx):
        row = counted.get(member.id)
        report = latest_report(tx, member.id, row["sha256"]) if row else None
        book.append(gradebook_row(member.id, report, sections))
    return book, code_of(tx, {student: row["id"] for student, row in counted.items()})


def code_of(tx: Transaction, submissions: dict[str, int]) -> dict[str, str]:
    """The code of each student's submission (by id), for the similarity check: a zip or a
    notebook is left out."""
    sources = {student: course.content(tx, number)[1] for student, number in submissions.items()}
    return {student: data.decode("utf-8", errors="replace") for student, data in sources.items()
            if not data.startswith(b"PK") and not data.lstrip().startswith(b"{")}


def export_json(book: list[GradebookRow]) -> str:
    listed = [row.model_dump(exclude={"report", "feedback"}) for row in book]
    return json.dumps(listed, indent=2, ensure_ascii=False) + "\n"
