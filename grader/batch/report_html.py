"""The class report, ``RESULTS/report.html``: one self-contained page for the instructor.

Charts are inline SVG (matplotlib), the table sorts with a few lines of inline script,
nothing is fetched: the page works offline and can be mailed. Every text goes through
Jinja's autoescaping; only our own SVG is inserted as markup. It is for instructors:
failures are named as the grader saw them, hidden cases included.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from grader.batch import plots
from grader.batch.gradebook import SKIPPED, GradebookRow
from grader.batch.similarity import SimilarPair
from grader.batch.store import Batch
from grader.reports.model import Verdict
from reference.common import Section

REPORT_FILE = "report.html"
MAX_PAIRS_SHOWN = 40
NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")


@dataclass(frozen=True)
class SectionFailure:
    section: str
    verdict: str
    example: str   # the first message of that kind, numbers as they were
    students: int
    failed: int    # students who failed the section, whatever the failure
    graded: int    # students the section was graded for (not skipped)


def _failure_kind(message: str) -> str:
    return NUMBER.sub("#", message.splitlines()[0] if message else "")[:160]


def common_failures(book: list[GradebookRow], sections: Sequence[Section]
                    ) -> list[SectionFailure]:
    """For each section, the failure most students hit (verdict and message, numbers aside),
    among the students it was graded for: a skipped section is no failure."""
    graded = [row.report for row in book if row.report is not None and row.report.error is None]
    result = []
    for section in sections:
        kinds: Counter[tuple[str, str]] = Counter()
        examples: dict[tuple[str, str], str] = {}
        results = [found for report in graded for found in report.sections
                   if found.name == section.name and found.verdict != Verdict.skipped]
        for found in results:
            if found.verdict == Verdict.passed:
                continue
            kind = (found.verdict.value, _failure_kind(found.message))
            kinds[kind] += 1
            examples.setdefault(kind, found.message.splitlines()[0] if found.message else "")
        if kinds:
            (verdict, kind), count = kinds.most_common(1)[0]
            result.append(SectionFailure(section.title, verdict, examples[(verdict, kind)],
                                         count, sum(kinds.values()), len(results)))
    return result


def pass_rate(graded: list[GradebookRow], name: str) -> float | None:
    """The share of students with the section passed, among those it was graded for."""
    verdicts = [section.verdict for row in graded for section in row.report.sections
                if section.name == name and section.verdict != Verdict.skipped]
    return sum(verdict == Verdict.passed for verdict in verdicts) / len(verdicts) \
        if verdicts else None


def _skipped(graded: list[GradebookRow], sections: Sequence[Section]) -> list[str]:
    """The sections no graded student had graded (``--skip-mnist``): left out of the totals."""
    skipped = [set(row.report.skipped_titles()) for row in graded]
    return [section.title for section in sections
            if skipped and all(section.title in titles for titles in skipped)]


def _max_total(graded: list[GradebookRow], sections: Sequence[Section]) -> float:
    """What the totals are out of: the sections graded (a batch grades every student alike)."""
    return max((row.max_total for row in graded),
               default=sum(section.points for section in sections))


def charts(book: list[GradebookRow], failures: list[SectionFailure],
           sections: Sequence[Section]) -> dict[str, Markup]:
    graded = [row for row in book if row.report is not None and row.report.error is None]
    rated = {s.title: pass_rate(graded, s.name) for s in sections}
    rated = {title: rate for title, rate in rated.items() if rate is not None}
    trained = [row for row in graded if row.mnist_accuracy is not None and row.mnist_seconds]
    min_accuracy = next((s.mnist.min_accuracy for row in trained for s in row.report.sections
                         if s.mnist is not None), 0.9)
    found = {
        "scores": plots.score_distribution([row.total for row in graded],
                                           _max_total(graded, sections),
                                           _skipped(graded, sections)),
        "pass_rates": plots.pass_rates(list(rated), list(rated.values())),
    }
    if trained:
        found["mnist"] = plots.accuracy_against_time(
            [row.mnist_seconds for row in trained], [row.mnist_accuracy for row in trained],
            min_accuracy)
    if failures:
        found["failures"] = plots.common_failures(
            [f"{failure.section}: {failure.verdict}" for failure in failures],
            [failure.students for failure in failures])
    return {name: Markup(svg) for name, svg in found.items()}


def render(book: list[GradebookRow], batch: Batch, pairs: list[SimilarPair],
           threshold: float, min_overlap: int, sections: Sequence[Section]) -> str:
    environment = Environment(loader=PackageLoader("grader.batch", "templates"),
                              autoescape=select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True)
    failures = common_failures(book, sections)
    graded = [row for row in book if row.status == "graded"]
    totals = sorted(row.total for row in graded)
    skipped = _skipped(graded, sections)
    return environment.get_template("report.html.j2").render(
        book=book, batch=batch, sections=sections, failures=failures,
        charts=charts(book, failures, sections), pairs=pairs[:MAX_PAIRS_SHOWN],
        more_pairs=max(0, len(pairs) - MAX_PAIRS_SHOWN), threshold=threshold,
        min_overlap=min_overlap, graded=len(graded), skipped=skipped,
        max_total=_max_total(graded, sections), skipped_value=SKIPPED,
        mean=sum(totals) / len(totals) if totals else None,
        median=totals[len(totals) // 2] if totals else None,
        statuses=Counter(row.status for row in book),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(out: Path, book: list[GradebookRow], batch: Batch, pairs: list[SimilarPair],
                 threshold: float, min_overlap: int, sections: Sequence[Section]) -> Path:
    path = Path(out) / REPORT_FILE
    path.write_text(render(book, batch, pairs, threshold, min_overlap, sections),
                    encoding="utf-8")
    return path
