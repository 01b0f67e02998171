"""The given-code check: what grading relies on is a change; anything else is an addition."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.given_code import check as modification
from grader.given_code.check import check_modifications
from grader.given_code.syntax import regions
from grader.given_code.template import given_code
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.reports.model import Verdict
from tests.grading_fixtures import REFERENCE_SOLUTION, cases_with_limits

REFERENCE = REFERENCE_SOLUTION.read_text(encoding="utf-8")
TEMPLATE = given_code()
SUBMISSIONS = Path(__file__).parent / "submissions"
OLDER_LAYOUT = SUBMISSIONS / "course_older_layout.py"
COURSE_2019 = SUBMISSIONS / "course_2019_template.py"
COURSE_LATER = SUBMISSIONS / "course_later_template.py"
ADDITIONS = "code added outside the solution regions (allowed, not graded): "
STRICT = "[policy]\nfail_on_modified_code = true\n"


def line_of(source: str, text: str) -> int:
    """The number of the last line of ``source`` holding ``text``."""
    return max(number for number, line in enumerate(source.splitlines(), start=1)
               if text in line)


def test_a_bom_windows_line_endings_and_tabs_change_nothing():
    tabbed = "\ufeff" + REFERENCE.replace("    ", "\t").replace("\n", "\r\n")
    assert check_modifications(tabbed, REFERENCE).warnings() == []


def test_comments_docstrings_and_blank_lines_change_nothing():
    noisy = REFERENCE.replace('        """\n        :param inputs: np.array((n, d)), input values',
                              '        """Моя документация.\n        :param inputs: входы')
    noisy = noisy.replace("# ================================ 2.1.1 ReLU", "\n\n# --- ReLU ---")
    noisy = noisy.replace("        super().build(*args, **kwargs)\n",
                          "        super().build(*args, **kwargs)  # as given\n\n\n")
    assert noisy != REFERENCE and check_modifications(noisy, REFERENCE).warnings() == []


def test_the_courses_older_template_layout_is_accepted():
    assert check_modifications(OLDER_LAYOUT.read_text(encoding="utf-8"), REFERENCE).warnings() \
        == []


def without_forward_lines(source: str) -> str:
    """``source`` whose regions read ``self.forward_inputs`` and ``self.forward_outputs``
    directly, without the lines that named them."""
    for old, new in (
            ("        inputs = self.forward_inputs\n        return grad_outputs * (inputs > 0)",
             "        return grad_outputs * (self.forward_inputs > 0)"),
            ("        outputs = self.forward_outputs\n"
             "        dot = np.sum(grad_outputs * outputs, axis=1, keepdims=True)\n"
             "        return outputs * (grad_outputs - dot)",
             "        dot = np.sum(grad_outputs * self.forward_outputs, axis=1, keepdims=True)\n"
             "        return self.forward_outputs * (grad_outputs - dot)"),
            ("        inputs = self.forward_inputs\n        n = inputs.shape[0]\n"
             "        self.weights_grad = np.dot(inputs.T, grad_outputs) / n",
             "        n = self.forward_inputs.shape[0]\n"
             "        self.weights_grad = np.dot(self.forward_inputs.T, grad_outputs) / n")):
        assert old in source, old
        source = source.replace(old, new)
    assert "        inputs = self.forward_" not in source
    return source


@pytest.mark.parametrize("edit", [str, without_forward_lines], ids=["as_sent", "lines_deleted"])
def test_the_2019_template_with_forward_lines_in_the_regions_or_deleted_changes_nothing(edit):
    source = edit(COURSE_2019.read_text(encoding="utf-8"))
    assert check_modifications(source, TEMPLATE).warnings() == []


def test_the_later_template_gives_only_additions_listed_once_without_bare_quotes():
    source = COURSE_LATER.read_text(encoding="utf-8")
    check = check_modifications(source, TEMPLATE)
    assert check.changes == [] and len(check.additions) == 13
    assert check.warnings() == [
        ADDITIONS + f"at line {line_of(source, 'import math')}: 'import math'; at line "
        f"{line_of(source, 'import numpy as np')}: 'import numpy as np'; at line "
        f"{line_of(source, 'class ReLU') + 1}: 'def __init__(self, *args, **kwargs):' (in ReLU); "
        "and 10 more"]
    assert "'\"\"\"'" not in " ".join(check.additions)


def test_the_later_template_scores_every_unit_section_when_changes_fail(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", STRICT)
    report = grade_submission(COURSE_LATER, GradingOptions(cases_dir=cases, skip_mnist=True))
    assert report.total == 4.0
    assert len(report.warnings) == 1 and report.warnings[0].startswith(ADDITIONS)
    assert not any('"""' in warning for warning in report.warnings)


END = "    return model\n"
CHANGES = {  # scenario: (what is replaced, by what, the change's warning; {line}: where)
    "initializer": (
        "            initializer=np.zeros\n", "            initializer=np.ones\n",
        "given code changed outside the solution regions at line {line}: '…, shape=(output_"
        "units,), initializer=np.ones)' (the template has '…, shape=(output_units,), "
        "initializer=np.zeros)')", "self.biases, self.biases_grad = self.add_parameter("),
    "output_shape_removed": (
        "        self.output_shape = (units,)\n", "",
        "given code removed: 'self.output_shape = (units,)' (line 68 of the template, in "
        "Dense.__init__)", None),
    "argument_renamed": (
        "    def __call__(self, y_gt, y_pred):", "    def __call__(self, y_true, y_pred):",
        "given definition CategoricalCrossentropy.__call__ changed at line {line}: 'def "
        "__call__(self, y_true, y_pred):' (the template has 'def __call__(self, y_gt, "
        "y_pred):')", "def __call__"),
    "base_class": (
        "class Dense(Layer):", "class Dense(object):",
        "given definition Dense changed at line {line}: 'class Dense(object):' (the template "
        "has 'class Dense(Layer):')", "class Dense"),
    "layer_redefined": (
        "from interface import *\n", "from interface import *\n\n\nclass Layer:\n    pass\n",
        "the framework's Layer redefined at line {line}: 'class Layer:'", "class Layer:"),
    "model_fit_replaced": (
        END, END + "\n\nModel.fit = lambda self, *args, **kwargs: None\n",
        "the framework's Model altered at line {line}: 'Model.fit = lambda self, *args, "
        "**kwargs: None'", "Model.fit"),
    "relu_defined_twice": (
        END, END + "\n\nclass ReLU(Layer):\n    def forward(self, inputs):\n        return "
        "inputs\n\n    def backward(self, grad_outputs):\n        return grad_outputs\n",
        "the graded ReLU defined a second time (the last definition is graded) at line {line}: "
        "'class ReLU(Layer):'", "class ReLU"),
}


@pytest.mark.parametrize("old, new, warning, cited", CHANGES.values(), ids=CHANGES.keys())
def test_a_real_change_is_a_change_named_readably(old, new, warning, cited):
    changed = REFERENCE.replace(old, new, 1)
    check = check_modifications(changed, TEMPLATE)
    assert check.changes == [warning.format(line=cited and line_of(changed, cited))]


@pytest.mark.parametrize("scenario", ["output_shape_removed", "model_fit_replaced",
                                      "relu_defined_twice"])
def test_a_change_fails_every_section_when_the_policy_says_so(tmp_path, scenario):
    old, new, warning, cited = CHANGES[scenario]
    path = tmp_path / "solution.py"
    path.write_text(REFERENCE.replace(old, new, 1), encoding="utf-8")
    cases = cases_with_limits(tmp_path / "cases", STRICT)
    report = grade_submission(path, GradingOptions(cases_dir=cases, skip_mnist=True))
    assert report.total == 0.0
    assert {section.verdict for section in report.sections[:6]} == {Verdict.modified_code}
    assert report.sections[0].message == "given code was modified: " + warning.format(
        line=cited and line_of(path.read_text(encoding="utf-8"), cited))


def test_imports_helpers_layers_and_methods_are_one_line_of_additions():
    added = REFERENCE.replace("from interface import *\n", "import os\nfrom interface import *\n"
                              "\n\ndef helper(x):\n    return x\n\n\nclass Tanh(Layer):\n"
                              "    def forward(self, inputs):\n        return np.tanh(inputs)\n")
    added = added.replace("    def build(self, *args, **kwargs):\n",
                          "    def describe(self):\n        return 'dense'\n\n"
                          "    def build(self, *args, **kwargs):\n")
    check = check_modifications(added, TEMPLATE)
    assert check.changes == []
    assert check.warnings() == [
        ADDITIONS + "at line 1: 'import os'; at line 5: 'def helper(x):'; at line 9: "
        "'class Tanh(Layer):'; and 1 more"]
    assert check.additions[3] == (f"at line {line_of(added, 'def describe')}: "
                                  "'def describe(self):' (in Dense)")


@pytest.mark.parametrize("begin, end", [("#your code here\\/", "#your code here/\\"),
                                        ("# YOUR CODE HERE \\ /", "# YOUR CODE HERE / \\"),
                                        ("#   Your  Code   here   \\/  ", "# your code here  /\\")])
def test_lowercase_and_oddly_spaced_markers_are_recognised(begin, end):
    odd = REFERENCE.replace("# Your code here \\/", begin).replace("# Your code here /\\", end)
    assert odd != REFERENCE and regions(odd) == regions(REFERENCE)
    assert check_modifications(odd, TEMPLATE).warnings() == []


UNPAIRED = ("the '# Your code here \\/' ... '# Your code here /\\' markers do not pair up ({}), "
            "so the given statements cannot be told from the solutions: only the graded "
            "classes' and functions' headers and methods and the framework's names were checked")


@pytest.mark.parametrize("old, new, count, problem", [
    ("        # Your code here /\\\n", "", 1,
     "the begin marker at line 28 is inside the region begun at line 15"),
    (END, END + "# Your code here /\\\n", 1,
     "the end marker at line 241 has no begin marker before it"),
    (END, END + "# Your code here \\/\n", 1, "the begin marker at line 241 has no end marker"),
    ("# Your code here", "# Solution", -1, "solution.py has none"),
], ids=["end_removed", "end_added", "begin_added", "all_removed"])
def test_unpaired_markers_are_named_and_a_renamed_graded_class_still_reported(old, new, count,
                                                                               problem):
    broken = REFERENCE.replace(old, new, count)
    renamed = broken.replace("class SGDMomentum(Optimizer):", "class SGDWithMomentum(Optimizer):")
    assert check_modifications(broken, TEMPLATE).warnings() == [UNPAIRED.format(problem)]
    check = check_modifications(renamed, TEMPLATE)
    assert check.notes == [UNPAIRED.format(problem)] and check.changes == [
        "given definition SGDMomentum is missing (line 183 of the template: "
        "'class SGDMomentum(Optimizer):')"]


GAVE_UP = ["changes to the given code could not be checked: Python's parser gave up on "
           "solution.py (too large or nested too deeply)"]
TOO_BIG_OR_DEEP = ("x = a" + ".b" * 1500,         # parses; too deep to compare
                   "import a" + ".b" * 200000,   # tens of GB for the parser: over its limit
                   "x = " + "-" * 100000 + "1",  # MemoryError in the parser
                   "x = a" + ".b" * 200000)      # RecursionError in the parser


def test_code_too_big_or_deep_for_the_parser_is_said_without_harm_to_the_grader():
    for tail in TOO_BIG_OR_DEEP:
        check = check_modifications(REFERENCE + "\n" + tail + "\n", REFERENCE)
        assert check.warnings() == GAVE_UP and check.changes == []


def test_a_huge_environment_does_not_keep_the_parser_from_starting(monkeypatch):
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "x" * 400_000)  # over Linux's 128 KB a string
    assert check_modifications(REFERENCE, REFERENCE).warnings() == []


def test_a_parser_that_cannot_start_is_said_not_raised(monkeypatch):
    def too_long(*args, **kwargs):
        raise OSError(7, "Argument list too long")

    monkeypatch.setattr(modification.subprocess, "run", too_long)
    assert check_modifications(REFERENCE, REFERENCE).warnings() == [
        "changes to the given code could not be checked: the parser could not be started "
        "([Errno 7] Argument list too long)"]


def test_a_parser_forked_first_is_bounded_the_same(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    monkeypatch.setattr(modification.subprocess, "run", _no_subprocess)
    for tail in TOO_BIG_OR_DEEP:
        source = REFERENCE + "\n" + tail + "\n"
        modification.fork_parser(source)
        assert check_modifications(source, REFERENCE).warnings() == GAVE_UP


def _no_subprocess(*args, **kwargs):
    raise AssertionError("the parser forked first was not used")


def test_a_parser_forked_first_gives_the_check_of_its_text(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    added = REFERENCE.replace("from interface import *\n", "from interface import *\nimport os\n")
    modification.fork_parser(added)
    monkeypatch.setattr(modification.subprocess, "run", _no_subprocess)
    assert check_modifications(added, REFERENCE).warnings() == [
        ADDITIONS + "at line 2: 'import os'"]


def test_a_parser_forked_for_another_text_is_ended_and_the_text_parsed_anew(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    modification.fork_parser(REFERENCE)
    forked = modification._forked.pid
    removed = REFERENCE.replace("        self.output_shape = (units,)\n", "")
    assert check_modifications(removed, REFERENCE).changes[0].startswith("given code removed")
    with pytest.raises(ChildProcessError):  # reaped: nothing is left of it
        os.waitpid(forked, os.WNOHANG)


def test_no_parser_is_forked_beside_other_threads(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 2)
    modification.fork_parser(REFERENCE)
    assert modification._forked is None


def test_a_file_with_unpaired_markers_is_parsed_by_the_parser_forked_first(monkeypatch):
    monkeypatch.setattr(modification.threading, "active_count", lambda: 1)
    broken = REFERENCE.replace("        # Your code here /\\\n", "", 1)
    modification.fork_parser(broken)
    monkeypatch.setattr(modification.subprocess, "run", _no_subprocess)
    assert check_modifications(broken, REFERENCE).notes[0].startswith("the '# Your code here")


def test_a_parse_failed_by_another_threads_parse_is_parsed_again(monkeypatch):
    """CPython 3.11 (gh-106905): a parse in another thread (a library formatting a traceback)
    can fail ours with a spurious SystemError; once it failed a Dask worker's grading."""
    import ast

    from grader.given_code import syntax

    real_parse, calls = ast.parse, []

    def failing_once(text, *args, **kwargs):
        calls.append(text)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=30, after=80)")
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", failing_once)
    modification.framework_names.cache_clear()
    try:
        assert "Layer" in modification.framework_names() and len(calls) >= 2
    finally:
        modification.framework_names.cache_clear()
    def another_error(*args, **kwargs):
        raise SystemError("another error of the interpreter")

    monkeypatch.setattr(ast, "parse", another_error)
    with pytest.raises(SystemError, match="another error"):
        syntax.parse("x = 1")
