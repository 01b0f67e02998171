"""A section skipped (``--skip-mnist``) is "skipped" in every report, never a graded 0."""
from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pytest
from rich.console import Console

from grader.batch.gradebook import GradebookRow
from grader.batch.report_html import common_failures
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.platforms.gradescope import results as render_gradescope
from grader.reports import junit as render_junit
from grader.reports import markdown as render_markdown
from grader.reports import terminal as render_terminal
from grader.reports.model import GradingReport, SectionResult, Verdict
from reference import common
from tests.grading_fixtures import cases_with_limits, solution_with
from tests.support.classroom import broken_source, reference_source

UNIT = GradingOptions(skip_mnist=True)
LIMITS = "[unit]\ntimeout_seconds = 3\n\n[box]\nimport_timeout_seconds = 3\n"


@pytest.fixture(scope="module")
def skip_mnist_report(tmp_path_factory) -> GradingReport:
    """ReLU failing, MNIST skipped: 3.5 of the 4 points graded."""
    broken = solution_with(tmp_path_factory.mktemp("broken"), "return np.maximum(inputs, 0.0)",
                           "return np.abs(inputs)")
    return grade_submission(broken, UNIT)


def test_a_skip_mnist_batch_says_skipped_in_its_gradebook_and_page(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text(reference_source())
    (folder / "bob.py").write_text(broken_source("softmax"))
    cases = cases_with_limits(tmp_path / "cases", LIMITS)
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "--out",
                           str(out), "--skip-mnist", "--cases", str(cases)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    with open(out / "gradebook.csv", encoding="utf-8") as stream:
        book = {row["student"]: row for row in csv.DictReader(stream)}
    assert [(book[name]["mnist"], book[name]["total"], book[name]["max_total"])
            for name in ("alice", "bob")] == [("skipped", "4", "4"), ("skipped", "3", "4")]
    listed = {row["student"]: row for row in json.loads((out / "gradebook.json").read_text())}
    assert listed["bob"]["points"]["mnist"] == "skipped" and listed["bob"]["points"]["softmax"] == 0
    assert (listed["bob"]["total"], listed["bob"]["max_total"]) == (3, 4)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('<td class="num skipped" data-sort="-1">skipped</td>') == 2
    assert "Skipped, not graded: 2.4 MNIST." in page and "mean points (of 4)" in page
    assert "total points (out of 4; 2.4 MNIST skipped)" in page  # the score distribution
    pass_rates = page.split('id="chart-pass_rates"')[1].split("</figure>")[0]
    assert "2.1.2 Softmax" in pass_rates and "MNIST" not in pass_rates
    failures = page.split('id="failures"')[1].split("</table>")[0]
    assert "Softmax" in failures and "MNIST" not in failures


def _report(mnist: Verdict, points: float) -> GradingReport:
    """A graded report whose unit sections passed and whose MNIST ended with ``mnist``."""
    sections = [SectionResult(name=name, title=name, points=1.0, max_points=1.0,
                              verdict=Verdict.passed)
                for name in ("relu", "softmax", "dense", "crossentropy", "sgd", "momentum")]
    sections.append(SectionResult(name="mnist", title="2.4 MNIST", points=points,
                                  max_points=1.0, verdict=mnist, message="accuracy 0.5"))
    return GradingReport(submission="x.py", total=6 + points, max_total=7.0, sections=sections,
                         seconds=0.0, grader_version="0")


def test_graded_students_who_had_mnist_skipped_are_not_counted_as_its_failures():
    book = [GradebookRow(student=str(number), points={}, total=report.total,
                         max_total=report.max_total, status="graded", report=report)
            for number, report in enumerate([_report(Verdict.wrong_answer, 0.0),
                                             _report(Verdict.skipped, 0.0),
                                             _report(Verdict.skipped, 0.0)])]
    [mnist] = common_failures(book, common.SECTIONS)
    assert (mnist.section, mnist.students, mnist.failed, mnist.graded) == ("2.4 MNIST", 1, 1, 1)


def test_the_terminal_table_says_skipped_and_totals_the_sections_graded(skip_mnist_report):
    console = Console(record=True, width=120)
    render_terminal.render(skip_mnist_report, console)
    text = console.export_text()
    assert re.search(r"2\.4 MNIST\s+│ skipped\s+│\s+- │\s+skipped │", text), text
    assert re.search(r"Total\s+│\s+│\s+│\s+3\.5 / 4 │", text), text
    assert "2.4 MNIST skipped: the total is out of 4, not 5" in text
    assert "0 / 1" not in text


def test_the_feedback_says_skipped_and_totals_the_sections_graded(skip_mnist_report):
    feedback = render_markdown.render(skip_mnist_report, "bob")
    assert "**Total: 3.5 / 4**" in feedback
    assert "2.4 MNIST: skipped, not graded this time (the total is out of 4, not 5)." in feedback
    assert "| 2.4 MNIST | skipped | - | skipped |" in feedback and "0 / 1" not in feedback


def test_gradescope_says_skipped_not_failed(skip_mnist_report):
    results = json.loads(render_gradescope.render(skip_mnist_report))
    [mnist] = [test for test in results["tests"] if "MNIST" in test["name"]]
    assert mnist["name"] == "2.4 MNIST (skipped)" and "status" not in mnist
    assert (mnist["score"], mnist["max_score"]) == (0.0, 0.0)
    assert mnist["output"].startswith("skipped (--skip-mnist): not graded")
    assert results["score"] == 3.5


def test_junit_counts_the_skipped_section_as_a_skipped_test(skip_mnist_report):
    import xml.etree.ElementTree as ElementTree

    suite = ElementTree.fromstring(render_junit.render(skip_mnist_report)) \
        .find("testsuite[@name='mnist']")
    assert (suite.get("tests"), suite.get("skipped"), suite.get("failures")) == ("1", "1", "0")
    assert suite.find("properties/property[@name='points']").get("value") == "skipped"
    assert suite.find("testcase/skipped").get("message") == "skipped (--skip-mnist)"

