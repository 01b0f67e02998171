"""grader batch on a small class: database, resume, gradebook, feedback, report, similarity."""
from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grader.batch.gradebook import file_name, safe_cell
from grader.batch.similarity import similar_pairs
from grader.batch.store import DATABASE_FILE
from grader.given_code.template import stub_solution
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import failed_report
from grader.reports import markdown as render_markdown
from grader.reports.model import ErrorCause
from tests.grading_fixtures import REFERENCE_SOLUTION, cases_with_limits
from tests.support.classroom import broken_source, reference_source

LIMITS = "[unit]\ntimeout_seconds = 3\n\n[box]\nimport_timeout_seconds = 3\n"


def grader_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    return cases_with_limits(tmp_path_factory.mktemp("cases") / "cases", LIMITS)


@pytest.fixture
def small_class(tmp_path) -> Path:
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text(reference_source())
    (folder / "bob.py").write_text(broken_source("softmax"))
    (folder / "=cmd.py").write_text(stub_solution(reference_source()))
    (folder / "dave.py").write_bytes(b"\x89PNG not code")
    return folder


def gradings(out: Path) -> list[tuple[str, float, int]]:
    with sqlite3.connect(out / DATABASE_FILE) as db:
        return db.execute("SELECT student, total, done FROM gradings ORDER BY id").fetchall()


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", encoding="utf-8") as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}


def test_a_batch_grades_stores_and_writes_the_gradebook(tmp_path, small_class, cases):
    out = tmp_path / "results"
    done = grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", cases)
    assert done.returncode == 0, done.stderr
    assert "files layout, 4 students: 4 graded now" in done.stdout
    book = gradebook(out)
    assert set(book) == {"alice", "bob", "'=cmd", "dave"}  # a formula is not a formula
    assert book["alice"]["total"] == "4" and book["alice"]["softmax"] == "1"
    assert book["bob"]["total"] == "3" and book["bob"]["softmax"] == "0"
    assert book["'=cmd"]["total"] == "0" and book["'=cmd"]["status"] == "graded"
    assert book["dave"]["status"] == "not gradable" and "PNG image" in book["dave"]["warnings"]
    assert book["alice"]["mnist"] == "skipped" and book["alice"]["status"] == "graded"
    listed = json.loads((out / "gradebook.json").read_text())
    assert [row["student"] for row in listed] == ["=cmd", "alice", "bob", "dave"]
    feedback = (out / "feedback" / "bob.md").read_text()
    assert "**Total: 3 / 4**" in feedback and "hidden case 1" in feedback
    assert sorted(path.name for path in (out / "feedback").iterdir()) == \
        ["_cmd.md", "alice.md", "bob.md", "dave.md"]
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 3 and "<script" in page and "http" not in page.split("<svg")[0]
    with sqlite3.connect(out / DATABASE_FILE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        row = db.execute("SELECT file_sha256, cases_digest, grader_version, report, started_at, "
                         "finished_at FROM gradings WHERE student = 'alice'").fetchone()
    assert len(row[0]) == 64 and len(row[1]) == 64 and row[2].startswith("0.")
    assert json.loads(row[3])["total"] == 4.0 and row[4] <= row[5]


def test_a_rerun_grades_only_what_changed_and_regrade_forces(tmp_path, small_class, cases):
    out = tmp_path / "results"
    assert grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases",
                      cases).returncode == 0
    first = gradings(out)
    again = grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", cases)
    assert again.returncode == 0 and "0 graded now, 4 already had a result" in again.stdout
    assert gradings(out) == first
    (small_class / "bob.py").write_text(reference_source())  # bob resubmits
    grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", cases)
    assert gradings(out)[len(first):] == [("bob", 4.0, 1)]
    assert gradebook(out)["bob"]["total"] == "4"
    forced = grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", cases,
                        "--regrade", "--jobs", "1")
    assert forced.returncode == 0 and "4 graded now" in forced.stdout
    assert len(gradings(out)) == len(first) + 5


def test_changed_limits_are_a_new_grading(tmp_path, small_class, cases):
    out = tmp_path / "results"
    grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", cases)
    stricter = cases_with_limits(tmp_path / "stricter", LIMITS + "\n[policy]\n"
                                 "fail_on_modified_code = true\n")
    rerun = grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", stricter)
    assert "4 graded now" in rerun.stdout


def test_gradebook_command_rewrites_the_outputs(tmp_path, small_class, cases):
    out = tmp_path / "results"
    grader_cli("batch", small_class, "--out", out, "--skip-mnist", "--cases", cases)
    (out / "gradebook.csv").unlink()
    rewritten = grader_cli("gradebook", out, "--cases", cases)
    assert rewritten.returncode == 0 and (out / "gradebook.csv").exists()
    assert gradebook(out)["alice"]["total"] == "4"


@pytest.mark.parametrize("args, message", [
    (("batch", "{tmp}/nowhere", "--out", "{tmp}/r"), "does not exist"),
    (("batch", "{tmp}", "--out", "{tmp}/r", "--jobs", "0"), "--jobs must be at least 1"),
    (("gradebook", "{tmp}"), "holds no grades.sqlite"),
    (("batch", "{tmp}", "--out", "{tmp}/r", "--cluster", "tcp://127.0.0.1:9"), "no Dask scheduler"),
])
def test_bad_requests_are_named_without_a_traceback(tmp_path, args, message):
    (tmp_path / "alice.py").write_text("x = 1\n")
    done = grader_cli(*(arg.format(tmp=tmp_path) for arg in args), "--skip-mnist") \
        if args[0] == "batch" else grader_cli(*(arg.format(tmp=tmp_path) for arg in args))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr


def test_a_file_that_is_no_database_is_named(tmp_path):
    (tmp_path / DATABASE_FILE).write_text("not a database")
    done = grader_cli("gradebook", tmp_path)
    assert done.returncode == 2 and "cannot open the results database" in done.stderr


def test_similar_own_code_is_paired_and_given_code_is_not():
    reference = reference_source()
    template = stub_solution(reference)
    renamed = reference.replace("exps", "e").replace("weighted", "w")
    sources = {"a": reference, "b": renamed, "template-only": template,
               "own": template.replace("pass", "raise NotImplementedError('mine')", 1)}
    pairs = similar_pairs(sources, template, threshold=0.8, min_overlap=120)
    assert [(pair.first, pair.second) for pair in pairs] == [("a", "b")]
    assert pairs[0].similarity > 0.9
    first, second = pairs[0].segments()
    shown = "".join(segment.text for segment in first)
    assert "np.maximum(inputs, 0.0)" in shown and "class ReLU" not in shown  # own code only
    assert any(segment.matched for segment in second)
    assert "e = np.exp" in "".join(segment.text for segment in second)
    assert similar_pairs(sources, template, threshold=0.8, min_overlap=10_000) == []


def test_feedback_markdown_keeps_submission_text_inert():
    report = failed_report(Path("x.py"), "boom ```\n</code><script>alert(1)</script>",
                           ErrorCause.submission, DEFAULT_CASES_DIR)
    text = render_markdown.render(report, "<b>mallory</b>")
    assert "# Feedback for \\<b\\>mallory\\<\\/b\\>" in text or "\\<b\\>" in text
    assert "````text\nboom ```" in text  # the fence is longer than any run inside


def test_cells_and_file_names_are_safe():
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell(-1.5) == "'-1.5"
    assert safe_cell("alice") == "alice" and safe_cell(None) == ""
    taken: set[str] = set()
    assert file_name("../../etc/passwd", taken) == "_.._etc_passwd.md"
    assert file_name("Anna Ivanova", taken) == "Anna Ivanova.md"
    assert file_name("anna ivanova", taken) == "anna ivanova-2.md"
    assert file_name("", taken) == "student.md"


def test_the_reference_is_not_graded_twice_in_one_batch(tmp_path, cases):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_bytes(REFERENCE_SOLUTION.read_bytes())
    out = tmp_path / "results"
    grader_cli("batch", folder, "--out", out, "--skip-mnist", "--cases", cases, "--jobs", "3")
    assert gradings(out) == [("alice", 4.0, 1)]
