"""The two lanes: ``GradingOptions.sections`` grades only the sections named, and a
submission's report is the merge of its lanes' section results."""
from __future__ import annotations

import pytest

from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.reports.model import Verdict
from grader.serve import queue
from grader.serve.lanes import merge
from tests.grading_fixtures import REFERENCE_SOLUTION


@pytest.fixture(scope="module")
def relu_only(fast_unit_cases):
    return grade_submission(REFERENCE_SOLUTION, GradingOptions(
        cases_dir=fast_unit_cases, sections=frozenset({"relu"})))


def test_only_the_sections_named_are_graded_the_others_read_skipped(relu_only):
    verdicts = {section.name: section.verdict for section in relu_only.sections}
    assert verdicts.pop("relu") == Verdict.passed
    assert set(verdicts.values()) == {Verdict.skipped}
    assert relu_only.total == 0.5 and relu_only.graded_max_total() == 0.5


def test_the_report_takes_each_section_from_its_own_lane(relu_only):
    unit = relu_only.model_copy(deep=True)
    mnist = relu_only.model_copy(deep=True)
    trained = next(section for section in mnist.sections if section.name == "mnist")
    trained.verdict, trained.points = Verdict.passed, 1.0
    merged = merge({queue.UNIT: unit, queue.MNIST: mnist})
    verdicts = {section.name: section.verdict for section in merged.sections}
    assert verdicts["relu"] == Verdict.passed and verdicts["mnist"] == Verdict.passed
    assert merged.total == 1.5
    waiting = merge({queue.UNIT: unit})
    assert next(s for s in waiting.sections if s.name == "mnist").message.startswith(
        "being graded")
    assert merge({}) is None
