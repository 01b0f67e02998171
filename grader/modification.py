"""Find changes to the given code: everything outside the ``# Your code here`` regions.

The assignment says solutions with changed given code may not be accepted. The
given code is compared as Python syntax, not as text: a byte-order mark, line
endings, tabs or spaces, comments, docstrings and blank lines do not matter, and
a given statement that a student's file (or the course's older template) holds
elsewhere in the same function, a region included, still counts as given. What
is left (a statement added, changed or removed outside the regions) is reported
naming the submission's lines.

A submission's code is parsed only in a child process with bounded memory and
CPU time: CPython's parser is not linear on every input (one 400 KB dotted
import name needs tens of gigabytes), and no file may take the grader down.
``grader grade`` forks that child in its first lines (``fork_parser``), before
it has any thread: no interpreter to start, on the core the box does not use yet.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from grader.syntax import (PARSER_CPU_SECONDS, Statement, limit_parser, regions, statements,
                           statements_json)

MAX_REPORTED = 10
PARSER_CHILD = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from grader.syntax import print_statements; print_statements()")
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class ParserGaveUp(Exception):
    """Python's parser ran out of memory, time or recursion on the submission's code."""


PARSER_WAIT_SECONDS = 3 * PARSER_CPU_SECONDS


class ForkedParser:
    """A bounded child forked to work out the ``statements`` of ``source``: forked only from
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
                    stream.write(statements_json(source))
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
    if threading.active_count() == 1 and not _markers_missing(source):
        _forked = ForkedParser(source)


def _markers_missing(source: str) -> bool:
    return regions(source.lstrip("\ufeff")) is None


def _parsed_by_child(source: str) -> bytes:
    global _forked
    forked, _forked = _forked, None
    if forked is not None and forked.source == source:
        return forked.result()
    if forked is not None:  # forked for another text
        forked.discard()
    try:
        child = subprocess.run([sys.executable, "-I", "-S", "-c", PARSER_CHILD, PACKAGE_ROOT],
                               input=source.encode("utf-8", errors="replace"),
                               capture_output=True, timeout=PARSER_WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ParserGaveUp from None
    if child.returncode != 0:
        raise ParserGaveUp
    return child.stdout


def submission_statements(source: str) -> tuple[list[Statement], list[Statement]]:
    """``statements`` of a submission, worked out in a bounded child process; raises
    ``SyntaxError`` as ``statements`` does and ``ParserGaveUp`` when the child fails."""
    found = json.loads(_parsed_by_child(source))
    if found is None:
        raise SyntaxError("the submission does not parse")
    return tuple([Statement(tuple(scope), syntax, line, text)  # type: ignore[return-value]
                  for scope, syntax, line, text in part] for part in found)


def check_modifications(submission: str, reference: str) -> list[str]:
    """Warnings naming the submission's lines where its given code differs from the template.

    In every class and function, each given statement of the template must be there (in
    any order, inside a region or not), and every statement outside the regions must be
    one of them."""
    if _markers_missing(submission):
        return ["the '# Your code here \\/' ... '# Your code here /\\' markers are missing or "
                "unbalanced, so changes to the given code could not be checked"]
    try:
        actual, inside = submission_statements(submission)
    except SyntaxError:
        return []  # the submission does not import: its sections say so
    except ParserGaveUp:
        return ["changes to the given code could not be checked: Python's parser gave up on "
                "solution.py (too large or nested too deeply)"]
    expected, _ = statements(reference)
    warnings = []
    for scope in dict.fromkeys(statement.scope for statement in expected + actual):
        wanted = Counter(s.syntax for s in expected if s.scope == scope)
        present = Counter(s.syntax for s in actual + inside if s.scope == scope)
        missing = [s for s in expected if s.scope == scope and (wanted - present)[s.syntax]]
        extra, unmatched = [], Counter(wanted)
        for statement in (s for s in actual if s.scope == scope):
            if unmatched[statement.syntax]:
                unmatched[statement.syntax] -= 1
            else:
                extra.append(statement)
        for index, statement in enumerate(extra):
            was = f" (the template has {missing[index].text!r})" if index < len(missing) else ""
            verb = "changed" if was else "added"
            warnings.append(f"given code {verb} outside the solution regions at line "
                            f"{statement.line}: {statement.text!r}{was}")
        for statement in missing[len(extra):]:
            warnings.append(f"given code removed: {statement.text!r} (line {statement.line} of "
                            f"the template, in {'.'.join(scope) or 'the module'})")
    if len(warnings) > MAX_REPORTED:
        warnings = warnings[:MAX_REPORTED] + [f"... and {len(warnings) - MAX_REPORTED} more "
                                              "changes"]
    return warnings
