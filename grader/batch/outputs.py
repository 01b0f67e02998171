"""Everything a batch leaves for the instructor besides the database: the gradebook
(CSV, JSON, feedback files) and the class report with its similarity check."""
from __future__ import annotations

from pathlib import Path

from grader.batch.gradebook import write_gradebook
from grader.batch.report_html import write_report
from grader.batch.similarity import similar_pairs
from grader.batch.store import ResultStore
from grader.config import load_config
from grader.given_code.template import given_code


def write_outputs(out: Path, store: ResultStore, cases_dir: Path) -> list[Path]:
    """Write every output file into ``out`` from ``store``; the files written."""
    book, written = write_gradebook(out, store)
    settings = load_config(cases_dir).similarity
    sources = {row.student: row.code for row in store.roster() if row.code}
    pairs = similar_pairs(sources, given_code(), settings.threshold, settings.min_overlap)
    report = write_report(out, book, store.latest_batch(), pairs, settings.threshold,
                          settings.min_overlap)
    return written + [report]
