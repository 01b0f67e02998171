"""Submissions as students send them: a file, a notebook, a zip; anything else named clearly."""
from __future__ import annotations

import zipfile

import nbformat
import pytest

from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.reports.model import GradingReport, Verdict
from grader.submission import SubmissionError, cite_cells, read_submission
from tests.grading_fixtures import REFERENCE_SOLUTION

REFERENCE = REFERENCE_SOLUTION.read_text(encoding="utf-8")
UNIT = GradingOptions(skip_mnist=True)


def notebook(path, *cells: str) -> None:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# Homework")]
    book.cells += [nbformat.v4.new_code_cell(cell) for cell in cells]
    nbformat.write(book, path)


def zip_of(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_notebook_is_graded_from_its_code_cells_with_a_warning(tmp_path):
    head, tail = REFERENCE.split("# ================================ 2.1.1 ReLU")
    notebook(tmp_path / "solution.ipynb", "%matplotlib inline\n" + head,
             "# ================================ 2.1.1 ReLU" + tail, "!pip list")
    report = grade_submission(tmp_path / "solution.ipynb", UNIT)
    assert report.total == 4.0
    assert report.warnings[0].startswith("graded from the 3 code cells of the notebook")
    assert "2 IPython command line(s)" in report.warnings[1] and len(report.warnings) == 2


def test_a_zip_with_one_solution_is_graded_from_it(tmp_path):
    zip_of(tmp_path / "homework.zip", {"hw/solution.py": REFERENCE.encode(),
                                       "__MACOSX/hw/._solution.py": b"\x00junk",
                                       "hw/notes.txt": b"my notes"})
    report = grade_submission(tmp_path / "homework.zip", UNIT)
    assert report.total == 4.0 and report.warnings == ["graded hw/solution.py from the zip "
                                                       "homework.zip"]


def test_a_notebook_inside_a_zip_is_graded_too(tmp_path):
    notebook(tmp_path / "solution.ipynb", REFERENCE)
    zip_of(tmp_path / "hw.zip", {"solution.ipynb": (tmp_path / "solution.ipynb").read_bytes()})
    assert grade_submission(tmp_path / "hw.zip", UNIT).total == 4.0


@pytest.mark.parametrize("name, data, message", [
    ("photo.png", b"\x89PNG\r\n\x1a\n....", "photo.png is a PNG image, not Python code; expected "
                                           "solution.py"),
    ("solution.py", b"", "solution.py is empty; expected solution.py"),
    ("solution.py", b"   \n\n", "solution.py is empty"),
    ("solution.py", b"print(1)\x00\x01", "solution.py is a binary file"),
    ("solution.py", "def f():\n    return 'привет'\n".encode("cp1251"), "is not UTF-8 text"),
    ("solution.py", "# coding: ascii\nx = 'привет'\n".encode("utf-8"),
     r"is not ascii \(as its coding line says\) text \(byte 21\)"),
    ("solution.py", b"# -*- coding: klingon -*-\nx = 1\n", "unknown encoding"),
    ("solution.py", "x = 1\n".encode("utf-16"), "solution.py is UTF-16 text; save it as UTF-8"),
    ("report.pdf", b"%PDF-1.4 ...", "report.pdf is a PDF document"),
    ("solution.ipynb", b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}',
     "solution.ipynb is a notebook without code"),
])
def test_anything_else_is_refused_naming_what_came_and_what_is_expected(tmp_path, name, data,
                                                                        message):
    (tmp_path / name).write_bytes(data)
    pattern = message if "\\(" in message else message.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(SubmissionError, match=pattern):
        read_submission(tmp_path / name)


def test_a_zip_with_several_solutions_or_none_is_refused(tmp_path):
    zip_of(tmp_path / "two.zip", {"a/solution.py": b"x = 1\n", "b/solution.py": b"x = 2\n"})
    with pytest.raises(SubmissionError, match="holds 2 files named solution.py .*keep one"):
        read_submission(tmp_path / "two.zip")
    zip_of(tmp_path / "none.zip", {"main.py": b"x = 1\n", "README.md": b"hi"})
    with pytest.raises(SubmissionError, match=r"holds no solution.py \(it holds main.py, "
                                              r"README.md\)"):
        read_submission(tmp_path / "none.zip")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(SubmissionError, match="damaged zip"):
        read_submission(tmp_path / "broken.zip")


def test_a_byte_order_mark_and_windows_line_endings_are_fine(tmp_path):
    path = tmp_path / "solution.py"
    path.write_bytes(b"\xef\xbb\xbf" + REFERENCE.replace("\n", "\r\n").encode())
    report = grade_submission(path, UNIT)
    assert report.total == 4.0 and report.warnings == []


def test_a_file_in_the_encoding_its_coding_line_declares_is_graded(tmp_path):
    path = tmp_path / "solution.py"
    russian = "# -*- coding: cp1251 -*-\n# Решение студента\n" + REFERENCE + \
        '\nGREETING = "Привет"  # как в курсе\n'
    path.write_bytes(russian.encode("cp1251"))
    sent = read_submission(path)
    assert sent.source.decode("utf-8").splitlines()[:2] == ["# -*- coding: utf-8 -*-",
                                                           "# Решение студента"]
    assert sent.warnings == ["solution.py is cp1251 text (its coding line says so); graded as "
                             "UTF-8"]
    report = grade_submission(path, UNIT)
    assert report.total == 4.0, [(s.name, s.verdict, s.message) for s in report.sections]


def test_a_pipe_is_not_read(tmp_path):
    import os

    os.mkfifo(tmp_path / "solution.py")
    with pytest.raises(SubmissionError, match="is not a file"):
        read_submission(tmp_path / "solution.py")


# The notebooks of the tests below: cell 1 is Markdown, cell 2 the reference up to ReLU (its
# first line is line 1 of the joined code), cell 3 ReLU onwards (its line 1 is line 8).
HEAD, RELU = REFERENCE.split("class ReLU(Layer):")
RELU = "class ReLU(Layer):" + RELU
RELU_RETURN = "return np.maximum(inputs, 0.0)"  # line 12 of cell 3, line 19 of the joined code


def graded_notebook(tmp_path, *cells: str) -> GradingReport:
    notebook(tmp_path / "homework.ipynb", *cells)
    return grade_submission(tmp_path / "homework.ipynb", UNIT)


def test_a_notebook_whose_cell_raises_gets_the_cell_and_line_in_its_traceback(tmp_path):
    report = graded_notebook(tmp_path, HEAD, RELU.replace(RELU_RETURN,
                                                          "return inputs.no_such_thing"))
    relu = report.sections[0]
    assert relu.verdict == Verdict.exception and 'solution.py", cell 3, line 12, in forward\n' \
        "    return inputs.no_such_thing" in relu.message, relu.message
    assert all("cell 3, line 12, in forward" in case.message and "line 19" not in case.message
               for case in relu.cases if case.visibility == "public")


@pytest.mark.parametrize("broken, cited", [
    (RELU.replace(RELU_RETURN, "return np.maximum(inputs, 0.0"),
     'solution.py", cell 4, line 12\n    return np.maximum(inputs, 0.0\n'),
    ("def helper():\n\n" + RELU, 'solution.py", cell 4, line 3\n    class ReLU(Layer):\n'),
], ids=["unclosed parenthesis", "indentation"])
def test_a_notebook_with_a_syntax_error_in_a_cell_gets_its_cell_and_line(tmp_path, broken,
                                                                          cited):
    book = nbformat.v4.new_notebook()  # Markdown cells count too: ReLU is cell 4
    book.cells = [nbformat.v4.new_markdown_cell("# Homework"), nbformat.v4.new_code_cell(HEAD),
                  nbformat.v4.new_markdown_cell("## ReLU"), nbformat.v4.new_code_cell(broken)]
    nbformat.write(book, tmp_path / "homework.ipynb")
    report = grade_submission(tmp_path / "homework.ipynb", UNIT)
    for section in report.sections[:6]:
        assert section.verdict == Verdict.import_error and cited in section.message, section.message
    if broken.startswith("def helper"):
        assert "after function definition in cell 4, line 1" in report.sections[0].message


def test_a_notebook_whose_import_raises_gets_the_cell_and_line(tmp_path):
    report = graded_notebook(tmp_path, HEAD, "x = 1\nraise RuntimeError('my cell')", RELU)
    assert 'solution.py", cell 3, line 2, in <module>\n' in report.sections[0].message


def test_a_notebooks_given_code_warnings_cite_a_cell(tmp_path):
    added = RELU.replace("        inputs = self.forward_inputs\n",
                         "        inputs = self.forward_inputs\n        print(inputs)\n", 1)
    report = graded_notebook(tmp_path, HEAD, added)
    assert report.total == 4.0
    assert report.warnings[1:] == ["code added outside the solution regions (allowed, not graded): "
                                   "in cell 3, line 25: 'print(inputs)' (in ReLU.backward)"]


def test_only_the_graders_citations_of_a_notebooks_lines_are_rewritten():
    cells = {8: (3, 1), 19: (3, 12)}
    text = ('File "/tmp/box/solution.py", line 19, in forward\n'
            'File "/usr/lib/numpy/core.py", line 19, in sum\n'
            "given code removed: 'x = 1' (line 19 of the template, in ReLU)\n"
            'File "/tmp/box/solution.py", line 7\n'  # the blank line between two cells
            "IndentationError: expected an indented block after 'if' statement on line 8\n"
            "the begin marker at line 19 is inside the region begun at line 8 of the template")
    assert cite_cells(text, cells) == (
        'File "/tmp/box/solution.py", cell 3, line 12, in forward\n'
        'File "/usr/lib/numpy/core.py", line 19, in sum\n'
        "given code removed: 'x = 1' (line 19 of the template, in ReLU)\n"
        'File "/tmp/box/solution.py", line 7\n'
        "IndentationError: expected an indented block after 'if' statement in cell 3, line 1\n"
        "the begin marker in cell 3, line 12 is inside the region begun at line 8 of the "
        "template")
    assert cite_cells(text, None) == text  # a .py file: its own lines
