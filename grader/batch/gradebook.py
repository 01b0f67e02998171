"""The class's gradebook, from the results database: CSV, JSON and one feedback file each.

One row per student of the latest batch's roster, from their newest result for the
latest batch's (cases, grader): a student with no result yet is listed as ``not graded``.
A section the grading skipped (``--skip-mnist``) reads ``skipped``, never 0: ``total`` is
the sum over the sections graded and ``max_total`` what it is out of. Cells a spreadsheet
would take for a formula (``=``, ``+``, ``-``, ``@`` first) are written with a leading
apostrophe.
"""
from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from grader.batch.store import DATABASE_FILE, ResultStore, StoreError
from grader.gradings import Key
from grader.reports import markdown as render_markdown
from grader.reports.model import ErrorCause, GradingReport, Verdict
from reference.common import Section

CSV_FILE, JSON_FILE, FEEDBACK_DIR = "gradebook.csv", "gradebook.json", "feedback"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SKIPPED = "skipped"


class GradebookError(Exception):
    """No gradebook can be written (no database, no batch in it)."""


class GradebookRow(BaseModel):
    student: str
    points: dict[str, float | Literal["skipped"] | None] = Field(
        description="by section name: the points, 'skipped' for a section the grading skipped "
                    "(--skip-mnist), None when the student has no grading")
    total: float | None = Field(description="the sum over the sections graded")
    max_total: float = Field(description="what total is out of: skipped sections left out")
    mnist_accuracy: float | None = None
    mnist_seconds: float | None = None
    status: str  # graded, not gradable, grader failed, not graded
    warnings: list[str] = []
    feedback: str | None = None  # the feedback file, relative to RESULTS
    report: GradingReport | None = None


def _status(report: GradingReport | None) -> str:
    if report is None:
        return "not graded"
    if report.error is None:
        return "graded"
    return "not gradable" if report.error_cause == ErrorCause.submission else "grader failed"


def _mnist(report: GradingReport | None) -> tuple[float | None, float | None]:
    for section in report.sections if report else []:
        if section.mnist is not None:
            return section.mnist.accuracy, section.mnist.train_seconds
    return None, None


def row(student: str, report: GradingReport | None, sections: Sequence[Section]) -> GradebookRow:
    """A student's row from their result (None: not graded yet), a cell per section of the
    cases graded; ``grader serve`` builds its gradebook with this too."""
    points = {section.name: None for section in sections}
    if report is not None:
        points.update((section.name, SKIPPED if section.verdict == Verdict.skipped
                       else section.points) for section in report.sections)
    accuracy, seconds = _mnist(report)
    warnings = list(report.warnings) if report else []
    if report is not None and report.error:
        warnings.insert(0, report.error.splitlines()[0])
    return GradebookRow(
        student=student, points=points, total=report.total if report else None,
        max_total=report.graded_max_total() if report
        else sum(section.points for section in sections),
        mnist_accuracy=accuracy, mnist_seconds=seconds, status=_status(report),
        warnings=warnings, report=report)


def rows(store: ResultStore, sections: Sequence[Section]) -> list[GradebookRow]:
    batch = store.latest_batch()
    if batch is None:
        raise GradebookError(f"{store.path} holds no batch yet: run grader batch first")
    return [row(member.student, store.latest_report(Key(
                member.student, member.file_sha256, batch.cases_digest, batch.grader_version)),
                sections)
            for member in store.roster()]


def safe_cell(value: object) -> str:
    text = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(book: list[GradebookRow], sections: Sequence[Section]) -> str:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(["student", *(s.name for s in sections), "total", "max_total",
                     "mnist_accuracy", "mnist_seconds", "status", "warnings"])
    for row in book:
        writer.writerow([safe_cell(cell) for cell in (
            row.student, *(row.points[s.name] for s in sections), row.total,
            row.max_total, row.mnist_accuracy, row.mnist_seconds, row.status,
            " | ".join(row.warnings))])
    return sink.getvalue()


def file_name(student: str, taken: set[str]) -> str:
    """A file name for ``student``: letters, digits, ``.-_@`` and spaces kept, unique."""
    text = unicodedata.normalize("NFC", student)
    stem = re.sub(r"[^\w.@ -]+", "_", text).strip(" .")[:80] or "student"
    name, number = f"{stem}.md", 2
    while name.casefold() in taken:
        name, number = f"{stem}-{number}.md", number + 1
    taken.add(name.casefold())
    return name


def write_gradebook(out: Path, book: list[GradebookRow], sections: Sequence[Section]
                    ) -> list[Path]:
    """Write gradebook.csv, gradebook.json and feedback/*.md of ``book`` into ``out``; the
    files."""
    feedback = out / FEEDBACK_DIR
    feedback.mkdir(parents=True, exist_ok=True)
    for old in feedback.glob("*.md"):
        old.unlink()
    taken: set[str] = set()
    for row in book:
        if row.report is not None:
            name = file_name(row.student, taken)
            (feedback / name).write_text(render_markdown.render(row.report, row.student),
                                         encoding="utf-8")
            row.feedback = f"{FEEDBACK_DIR}/{name}"
    (out / CSV_FILE).write_text(to_csv(book, sections), encoding="utf-8")
    listed = [row.model_dump(exclude={"report"}) for row in book]
    (out / JSON_FILE).write_text(json.dumps(listed, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
    return [out / CSV_FILE, out / JSON_FILE, feedback]


def open_results(out: Path) -> ResultStore:
    """The database of ``out``, which must exist."""
    if not (Path(out) / DATABASE_FILE).is_file():
        raise GradebookError(f"{out} holds no {DATABASE_FILE}: run grader batch ... --out {out}")
    try:
        return ResultStore(out)
    except StoreError as error:
        raise GradebookError(str(error)) from None
