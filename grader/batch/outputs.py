"""Everything a batch leaves for the instructor besides the database: the gradebook
(CSV, JSON, feedback files) and the class report with its similarity check."""
from __future__ import annotations

from pathlib import Path

from grader.batch.gradebook import GradebookError, write_gradebook
from grader.batch.report_html import write_report
from grader.batch.similarity import similar_pairs
from grader.batch.store import ResultStore
from grader.config import ConfigError, load_config
from grader.given_code.template import given_code
from grader.pipeline import GradingError, case_sections


def write_outputs(out: Path, store: ResultStore, cases_dir: Path) -> list[Path]:
    """Write every output file into ``out`` from ``store``, a column per section of the cases
    in ``cases_dir``; the files written."""
    try:
        settings = load_config(cases_dir).similarity
        sections = case_sections(cases_dir)
    except (ConfigError, GradingError) as error:
        raise GradebookError(str(error)) from None
    book, written = write_gradebook(out, store, sections)
    sources = {row.student: row.code for row in store.roster() if row.code}
    pairs = similar_pairs(sources, given_code(), settings.threshold, settings.min_overlap)
    report = write_report(out, book, store.latest_batch(), pairs, settings.threshold,
                          settings.min_overlap, sections)
    return written + [report]
