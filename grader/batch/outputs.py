"""Everything a batch leaves for the instructor besides the database: the gradebook
(CSV, JSON, feedback files) and the class report with its similarity check.

Written from what a batch's store holds or, by ``grader gradebook --site``, from what a
course site's does (``grader.serve.service.site_gradings``): one artifact whichever way
the class was graded.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader.batch.gradebook import (GradebookError, GradebookRow, open_results, rows,
                                    write_gradebook)
from grader.batch.report_html import write_report
from grader.batch.similarity import similar_pairs
from grader.batch.store import Batch, ResultStore
from grader.config import ConfigError, load_config
from grader.given_code.template import given_code
from grader.pipeline import GradingError, case_sections
from reference.common import Section


@dataclass(frozen=True)
class Graded:
    """What the outputs are written from."""

    book: list[GradebookRow]
    code: dict[str, str]  # by student: the code graded, for the similarity check
    header: Batch         # what the class report says was graded, and how


Read = Callable[[Sequence[Section]], Graded]  # the class graded, a cell per section given


def of_store(store: ResultStore) -> Read:
    """A batch's class: its latest roster, the newest result of each for its batch."""
    return lambda sections: Graded(
        rows(store, sections), {row.student: row.code for row in store.roster() if row.code},
        store.latest_batch())


@contextmanager
def batch_gradings(out: Path) -> Iterator[Read]:
    """The class of the batch whose results are in ``out`` (which must hold them)."""
    with open_results(out) as store:
        yield of_store(store)


def write_outputs(out: Path, read: Read, cases_dir: Path) -> list[Path]:
    """Write every output file into ``out`` from what ``read`` gives, a column per section
    of the cases in ``cases_dir``; the files written."""
    try:
        settings = load_config(cases_dir).similarity
        sections = case_sections(cases_dir)
    except (ConfigError, GradingError) as error:
        raise GradebookError(str(error)) from None
    graded = read(sections)
    written = write_gradebook(out, graded.book, sections)
    pairs = similar_pairs(graded.code, given_code(), settings.threshold, settings.min_overlap)
    report = write_report(out, graded.book, graded.header, pairs, settings.threshold,
                          settings.min_overlap, sections)
    return written + [report]
