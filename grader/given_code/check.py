"""Find changes to the given code: what grading relies on outside the ``# Your code here`` regions.

The assignment says solutions with changed given code may not be accepted. The course's
templates differ from year to year (what the regions hold, what else is given), so what
counts is what the grader relies on, not one template's lines. The submission is compared
with the template students got (``grader.given_code.template.given_code``) as Python syntax: a
byte-order mark, line endings, tabs, comments and blank lines never matter. A CHANGE is

a. a graded definition missing or with another header. The graded definitions are the
   template's top-level classes and functions that hold a solution region. A header is a
   class's name, bases, keywords and decorators; a function's name, arguments with their
   defaults and decorators (annotations aside);
b. inside a graded definition, a class or function the template defines there (a method,
   a nested function such as ``updater``) missing or with another header;
c. a given statement of a graded definition missing or changed, where present means
   anywhere in the same class or function, a region included. Except a statement that only
   binds local names no other given statement reads (``inputs = self.forward_inputs``):
   only the student's code uses it, and the cases judge that code (the 2019 template even
   had it inside the regions);
d. at module level outside the regions: a name the course framework exports (its
   ``interface.__all__``), or the framework module, rebound or its attributes assigned
   (``class Layer: ...``, ``Model = X``, ``Layer.__call__ = f``; an import binding what the
   framework binds, ``import numpy as np``, is not a change); a graded name bound a second
   time (the last definition is the one graded) or its attributes assigned.

Only changes may fail a submission (``policy.fail_on_modified_code``). Everything else
outside the regions is at most an ADDITION (imports, helpers, extra classes and methods,
statements added to given methods, class attributes, constants, an older template's lines):
listed once, in one warning, as allowed and not graded. Bare strings (docstrings, strings
used as comments) are ignored. When the markers do not pair up, the regions cannot be told
apart: the warning names the unpaired marker, and a, b and d are checked all the same.

A submission's code is parsed only in a child process with bounded memory and
CPU time: CPython's parser is not linear on every input (one 400 KB dotted
import name needs tens of gigabytes), and no file may take the grader down.
``grader grade`` forks that child in its first lines (``fork_parser``), before
it has any thread: no interpreter to start, on the core the box does not use yet.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from grader.given_code.syntax import (
    PARSER_CPU_SECONDS,
    Statement,
    limit_parser,
    outline,
    outline_json,
    parse,
    regions,
    scan_markers,
)
from grader.paths import REFERENCE_DIR, REPO_DIR

MAX_REPORTED = 10           # changes shown; the rest are counted
MAX_LISTED_ADDITIONS = 3    # additions shown in their one warning; the rest are counted
SHOWN_CHARS = 80            # of a statement in a warning
PARSER_CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from grader.given_code.syntax import print_outline; print_outline()")
PACKAGE_ROOT = str(REPO_DIR)
FRAMEWORK = REFERENCE_DIR / "interface.py"  # the framework the cases run through
GAVE_UP = "Python's parser gave up on solution.py (too large or nested too deeply)"
UNPAIRED = ("the '# Your code here \\/' ... '# Your code here /\\' markers do not pair up ({}), "
            "so the given statements cannot be told from the solutions: only the graded "
            "classes' and functions' headers and methods and the framework's names were checked")


class ParserGaveUp(Exception):
    """Python's parser ran out of memory, time or recursion on the submission's code, or could
    not be started; the message says which."""

    def __init__(self, reason: str = GAVE_UP):
        super().__init__(reason)


@dataclass
class GivenCodeCheck:
    """What the check found: ``changes`` (the only thing ``fail_on_modified_code`` fails),
    ``additions`` (allowed and not graded, each "at line N: 'text'") and ``notes`` (what
    could not be checked)."""

    changes: list[str] = field(default_factory=list)
    additions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """The report's warnings: the notes, the first changes, one line for every addition."""
        shown = self.notes + self.changes[:MAX_REPORTED]
        if len(self.changes) > MAX_REPORTED:
            shown.append(f"... and {len(self.changes) - MAX_REPORTED} more changes")
        if self.additions:
            listed = self.additions[:MAX_LISTED_ADDITIONS]
            if len(self.additions) > MAX_LISTED_ADDITIONS:
                listed.append(f"and {len(self.additions) - MAX_LISTED_ADDITIONS} more")
            shown.append("code added outside the solution regions (allowed, not graded): "
                         + "; ".join(listed))
        return shown


PARSER_WAIT_SECONDS = 3 * PARSER_CPU_SECONDS


class ForkedParser:
    """A bounded child forked to work out the ``outline`` of ``source``: forked only from
    a process with no other thread (a thread's locks would stay held in the child)."""

    def __init__(self, source: str):
        self.source = source
        output, into = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns, whatever the parser does
            code = 1
            try:
                os.close(output)
                limit_parser()
                with os.fdopen(into, "w", encoding="utf-8") as stream:
                    stream.write(outline_json(source))
                code = 0
            finally:
                os._exit(code)
        os.close(into)
        self.output = output

    def result(self) -> bytes:
        """What the child wrote; ``ParserGaveUp`` when it failed or took too long."""
        data, deadline = bytearray(), time.monotonic() + PARSER_WAIT_SECONDS
        try:
            while select.select([self.output], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(self.output, 1 << 16)
                if not chunk:
                    break
                data += chunk
            else:
                os.kill(self.pid, signal.SIGKILL)
        finally:
            os.close(self.output)
            status = os.waitpid(self.pid, 0)[1]
        if status != 0:
            raise ParserGaveUp
        return bytes(data)

    def discard(self) -> None:
        """Ended unread, and reaped."""
        os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ParserGaveUp):
            self.result()


_forked: ForkedParser | None = None


def fork_parser(source: str) -> None:
    """Start parsing ``source`` now, if ``check_modifications`` will (``grader grade`` calls
    this before it starts a thread; with other threads running it parses later, as usual)."""
    global _forked
    if threading.active_count() == 1:
        _forked = ForkedParser(source)


def _parsed_by_child(source: str) -> bytes:
    global _forked
    forked, _forked = _forked, None
    if forked is not None and forked.source == source:
        return forked.result()
    if forked is not None:  # forked for another text
        forked.discard()
    try:  # the child needs no environment (a huge variable would stop it from starting)
        child = subprocess.run([sys.executable, "-I", "-S", "-c", PARSER_CHILD, PACKAGE_ROOT],
                               input=source.encode("utf-8", errors="replace"), env={},
                               capture_output=True, timeout=PARSER_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ParserGaveUp from None
    except OSError as error:
        raise ParserGaveUp(f"the parser could not be started ({error})") from None
    if child.returncode != 0:
        raise ParserGaveUp
    return child.stdout


def submission_outline(source: str) -> list[Statement]:
    """``outline`` of a submission, worked out in a bounded child process; raises
    ``SyntaxError`` as ``outline`` does and ``ParserGaveUp`` when the child fails."""
    found = json.loads(_parsed_by_child(source))
    if found is None:
        raise SyntaxError("the submission does not parse")
    return [Statement.from_json(row) for row in found]


@functools.cache
def framework_names() -> dict[str, frozenset[str]]:
    """Each name the framework exports, and the framework module itself, with what an import
    may bind to it unchanged: the framework's (``from interface import Layer``) or what the
    framework imported under that name itself (``import numpy as np``)."""
    source, module = FRAMEWORK.read_text(encoding="utf-8"), FRAMEWORK.stem
    exported = next(ast.literal_eval(node.value) for node in parse(source).body
                    if isinstance(node, ast.Assign)
                    and any(isinstance(target, ast.Name) and target.id == "__all__"
                            for target in node.targets))
    imported = {name: origin for statement in outline(source) if not statement.scope
                for name, origin in statement.binds if origin}
    names = {name: frozenset({f"{module}.{name}", imported.get(name, "")} - {""})
             for name in exported}
    return {**names, module: frozenset({module})}


def _shown(text: str, skip: int = 0) -> str:
    """``text`` quoted: about ``SHOWN_CHARS`` characters of it from ``skip``, "…" where cut."""
    kept = text[skip:]
    if len(kept) > SHOWN_CHARS:
        kept = kept[:SHOWN_CHARS - 1] + "…"
    return repr(("…" if skip else "") + kept)


def _shown_pair(actual: str, expected: str) -> tuple[str, str]:
    """Two statements quoted, cut alike so that where they differ shows."""
    common = len(os.path.commonprefix([actual, expected]))
    skip = common - SHOWN_CHARS // 2 if common > SHOWN_CHARS - 10 else 0
    return _shown(actual, skip), _shown(expected, skip)


def _graded(expected: list[Statement]) -> set[str]:
    """The graded definitions: the template's top-level ones that hold a solution region."""
    return {statement.name for statement in expected if not statement.scope
            and statement.holds_region}


def _marker_problem(submission: str, template: str) -> str | None:
    """What keeps the submission's regions from being told apart, or None."""
    found, problem = scan_markers(submission.lstrip("\ufeff"))
    if problem is None and not found and regions(template):
        return "solution.py has none"
    return problem


def _definition_changes(expected: list[Statement], actual: list[Statement],
                        graded: set[str]) -> list[str]:
    """(a, b) The graded definitions and the definitions in them missing or with another
    header (of two with one name, the last: it is the one that runs)."""
    changes, missing = [], set()
    for wanted in expected:
        path = wanted.scope + (wanted.name,)
        if not wanted.name or wanted.in_region or path[0] not in graded or \
                any(path[:end] in missing for end in range(1, len(path))):
            continue
        found = [statement for statement in actual
                 if statement.scope == wanted.scope and statement.name == wanted.name]
        if not found:
            missing.add(path)
            changes.append(f"given definition {'.'.join(path)} is missing (line {wanted.line} "
                           f"of the template: {_shown(wanted.text)})")
        elif found[-1].syntax != wanted.syntax:
            now, was = _shown_pair(found[-1].text, wanted.text)
            changes.append(f"given definition {'.'.join(path)} changed at line "
                           f"{found[-1].line}: {now} (the template has {was})")
    return changes


def _module_changes(actual: list[Statement], graded: set[str]) -> list[tuple[Statement, str]]:
    """(d) The module-level statements outside the regions that rebind or alter the
    framework, or bind a graded name a second time or alter it, each with its warning."""
    framework, bound, found = framework_names(), Counter(), []
    for statement in actual:
        if statement.scope or statement.in_region:
            continue
        again = []
        for name, _ in statement.binds:
            bound[name] += 1
            if name in graded and bound[name] > 1:
                again.append(name)
        reasons = [f"{whose} {', '.join(names)} {how}" for whose, names, how in (
            ("the framework's", [name for name, origin in statement.binds
                                 if name in framework and origin not in framework[name]],
             "redefined"),
            ("the framework's", [name for name in statement.alters if name in framework],
             "altered"),
            ("the graded", again, "defined a second time (the last definition is graded)"),
            ("the graded", [name for name in statement.alters if name in graded], "altered"),
        ) if names]
        if reasons:
            found.append((statement, f"{' and '.join(reasons)} at line {statement.line}: "
                                     f"{_shown(statement.text)}"))
    return found


def _beyond(statements: list[Statement], counts: Counter) -> list[Statement]:
    """The statements left when each syntax takes as many as ``counts`` has, in order."""
    left, counts = [], Counter(counts)
    for statement in statements:
        if counts[statement.syntax] > 0:
            counts[statement.syntax] -= 1
        else:
            left.append(statement)
    return left


def _students_material(expected: list[Statement]) -> list[Statement]:
    """(c, except) The template's given statements that only bind local names no other given
    statement of their graded definition reads: only the regions use them."""
    given = [statement for statement in expected if not statement.in_region]

    def read_elsewhere(statement: Statement) -> set[str]:
        top = statement.scope[0]
        return {name for other in given if other is not statement
                and (other.scope[:1] == (top,) or not other.scope and other.name == top)
                for name in other.reads}

    return [statement for statement in given if statement.local_names
            and not set(statement.local_names) & read_elsewhere(statement)]


def _changed_or_removed(scope: tuple[str, ...], missing: list[Statement],
                        extra: list[Statement]) -> list[str]:
    """Warnings for the given statements ``missing`` from ``scope``: each changed into one of
    the statements ``extra`` there, in order, while they last; removed after."""
    changes = []
    for gone, instead in zip(missing, extra):
        now, was = _shown_pair(instead.text, gone.text)
        changes.append(f"given code changed outside the solution regions at line "
                       f"{instead.line}: {now} (the template has {was})")
    for gone in missing[len(extra):]:
        changes.append(f"given code removed: {_shown(gone.text)} (line {gone.line} of the "
                       f"template, in {'.'.join(scope)})")
    return changes


def _statement_changes(expected: list[Statement], actual: list[Statement],
                       graded: set[str]) -> tuple[list[str], list[Statement]]:
    """(c) The given statements of the graded definitions missing or changed, and the
    submission's additions: what it has outside the regions, at module level and in the
    template's classes and functions, that the template does not (a definition once)."""
    definitions = [(statement.scope, statement.name) for statement in expected if statement.name]
    students = _students_material(expected)
    changes, additions = [], []
    for scope in dict.fromkeys([()] + [scope + (name,) for scope, name in definitions]):
        given = [statement for statement in expected
                 if statement.scope == scope and not statement.name and not statement.in_region]
        required = [statement for statement in given if statement not in students] \
            if scope[:1] and scope[0] in graded else []
        here = [statement for statement in actual if statement.scope == scope]
        missing = _beyond(required, Counter(statement.syntax for statement in here
                                            if not statement.name))
        outside = [statement for statement in here if not statement.in_region]
        extra = _beyond([statement for statement in outside if not statement.name],
                        Counter(statement.syntax for statement in given))
        changes += _changed_or_removed(scope, missing, extra)
        additions += extra[len(missing):] + [statement for statement in outside if statement.name
                                              and (scope, statement.name) not in definitions]
    return changes, additions


def _addition(statement: Statement) -> str:
    """An addition as its warning lists it: where, what, in which class or function."""
    inside = f" (in {'.'.join(statement.scope)})" if statement.scope else ""
    return f"at line {statement.line}: {_shown(statement.text)}{inside}"


def check_modifications(submission: str, reference: str) -> GivenCodeCheck:
    """The changes, additions and notes of ``submission``'s code outside the solution regions
    against the template ``reference`` (see the module's docstring for what is which)."""
    try:
        actual = submission_outline(submission)
    except SyntaxError:
        return GivenCodeCheck()  # the submission does not import: its sections say so
    except ParserGaveUp as error:
        return GivenCodeCheck(notes=[f"changes to the given code could not be checked: {error}"])
    expected = outline(reference)
    graded = _graded(expected)
    module = _module_changes(actual, graded)
    changes = _definition_changes(expected, actual, graded) + [warning for _, warning in module]
    problem = _marker_problem(submission, reference)
    if problem:
        return GivenCodeCheck(changes, notes=[UNPAIRED.format(problem)])
    statement_changes, additions = _statement_changes(expected, actual, graded)
    changed = [statement for statement, _ in module]
    return GivenCodeCheck(changes + statement_changes, [
        _addition(statement) for statement in sorted(additions, key=lambda found: found.line)
        if statement not in changed])
