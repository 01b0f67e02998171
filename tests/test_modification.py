"""The given-code check compares syntax, not text."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import modification
from grader.modification import check_modifications
from tests.grading_fixtures import REFERENCE_SOLUTION

REFERENCE = REFERENCE_SOLUTION.read_text(encoding="utf-8")
OLDER_LAYOUT = Path(__file__).parent / "submissions" / "course_older_layout.py"


def test_a_bom_windows_line_endings_and_tabs_change_nothing():
    tabbed = "\ufeff" + REFERENCE.replace("    ", "\t").replace("\n", "\r\n")
    assert check_modifications(tabbed, REFERENCE) == []


def test_comments_docstrings_and_blank_lines_change_nothing():
    noisy = REFERENCE.replace('        """\n        :param inputs: np.array((n, d)), input values',
                              '        """Моя документация.\n        :param inputs: входы')
    noisy = noisy.replace("# ================================ 2.1.1 ReLU", "\n\n# --- ReLU ---")
    noisy = noisy.replace("        super().build(*args, **kwargs)\n",
                          "        super().build(*args, **kwargs)  # as given\n\n\n")
    assert noisy != REFERENCE and check_modifications(noisy, REFERENCE) == []


def test_the_courses_older_template_layout_is_accepted():
    assert check_modifications(OLDER_LAYOUT.read_text(encoding="utf-8"), REFERENCE) == []


def test_a_really_changed_given_line_is_named():
    changed = REFERENCE.replace("            initializer=np.zeros\n",
                                "            initializer=np.ones\n")
    line = changed.splitlines().index("        self.biases, self.biases_grad = self.add_parameter(")
    assert check_modifications(changed, REFERENCE) == [
        f"given code changed outside the solution regions at line {line + 1}: "
        "'self.biases, self.biases_grad = self.add_parameter(' (the template has "
        "'self.biases, self.biases_grad = self.add_parameter(')"]


def test_added_and_removed_given_code_is_named():
    added = REFERENCE.replace("from interface import *\n", "from interface import *\nimport os\n")
    assert check_modifications(added, REFERENCE) == [
        "given code added outside the solution regions at line 2: 'import os'"]
    removed = REFERENCE.replace("        self.output_shape = (units,)\n", "")
    assert check_modifications(removed, REFERENCE) == [
        "given code removed: 'self.output_shape = (units,)' (line 70 of the template, in "
        "Dense.__init__)"]


def test_unbalanced_markers_are_said():
    broken = REFERENCE.replace("        # Your code here /\\\n", "", 1)
    assert "markers are missing or unbalanced" in check_modifications(broken, REFERENCE)[0]


GAVE_UP = ["changes to the given code could not be checked: Python's parser gave up on "
           "solution.py (too large or nested too deeply)"]
TOO_BIG_OR_DEEP = ("x = a" + ".b" * 1500,         # parses; too deep to compare
                   "import a" + ".b" * 200000,   # tens of GB for the parser: over its limit
                   "x = " + "-" * 100000 + "1",  # MemoryError in the parser
                   "x = a" + ".b" * 200000)      # RecursionError in the parser


def test_code_too_big_or_deep_for_the_parser_is_said_without_harm_to_the_grader():
    for tail in TOO_BIG_OR_DEEP:
        assert check_modifications(REFERENCE + "\n" + tail + "\n", REFERENCE) == GAVE_UP


def test_a_parser_forked_first_is_bounded_the_same(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    monkeypatch.setattr(modification.subprocess, "run", _no_subprocess)
    for tail in TOO_BIG_OR_DEEP:
        source = REFERENCE + "\n" + tail + "\n"
        modification.fork_parser(source)
        assert check_modifications(source, REFERENCE) == GAVE_UP


def _no_subprocess(*args, **kwargs):
    raise AssertionError("the parser forked first was not used")


def test_a_parser_forked_first_gives_the_check_of_its_text(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    added = REFERENCE.replace("from interface import *\n", "from interface import *\nimport os\n")
    modification.fork_parser(added)
    monkeypatch.setattr(modification.subprocess, "run", _no_subprocess)
    assert check_modifications(added, REFERENCE) == [
        "given code added outside the solution regions at line 2: 'import os'"]


def test_a_parser_forked_for_another_text_is_ended_and_the_text_parsed_anew(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    modification.fork_parser(REFERENCE)
    forked = modification._forked.pid
    removed = REFERENCE.replace("        self.output_shape = (units,)\n", "")
    assert check_modifications(removed, REFERENCE)[0].startswith("given code removed")
    with pytest.raises(ChildProcessError):  # reaped: nothing is left of it
        os.waitpid(forked, os.WNOHANG)


def test_no_parser_is_forked_beside_other_threads_or_without_regions(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 2)
    modification.fork_parser(REFERENCE)
    assert modification._forked is None
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    modification.fork_parser(REFERENCE.replace("        # Your code here /\\\n", "", 1))
    assert modification._forked is None
