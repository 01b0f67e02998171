"""A solution file's syntax: its ``# Your code here`` regions and its statements.

Standard library only and small: a bounded child process imports it to parse a
submission (see ``grader.modification``), so it loads little more than ``ast``.
"""
from __future__ import annotations

import ast
import json
import re
import resource
import sys
from collections import namedtuple

BEGIN_MARKER = re.compile(r"#\s*your code here\s*\\/", re.IGNORECASE)
END_MARKER = re.compile(r"#\s*your code here\s*/\\", re.IGNORECASE)
PARSER_MEMORY_BYTES = 512 << 20
PARSER_CPU_SECONDS = 10
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# A statement of the given code: what it is (its syntax, without positions), where; scope
# is the names of the classes and functions around it.
Statement = namedtuple("Statement", ["scope", "syntax", "line", "text"])


def regions(source: str) -> list[tuple[int, int]] | None:
    """Line ranges (first, last) of the solution regions; None if the markers do not pair up."""
    found, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN_MARKER.search(line):
            if start is not None:
                return None
            start = number
        elif END_MARKER.search(line):
            if start is None:
                return None
            found.append((start, number))
            start = None
    return None if start is not None else found


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and \
        isinstance(node.value.value, str)


def _header(node: ast.stmt) -> str:
    """A definition without its body: name, arguments, bases, decorators."""
    shell = type(node)(**{field: ([] if field == "body" else getattr(node, field))
                          for field in node._fields})
    return ast.dump(shell, include_attributes=False)


def statements(source: str) -> tuple[list[Statement], list[Statement]]:
    """(given, inside the regions): every statement, definitions by their header."""
    text = source.lstrip("\ufeff")
    tree = ast.parse(text)
    spans = regions(text) or []
    lines = text.splitlines()
    given: list[Statement] = []
    inside: list[Statement] = []

    def visit(body: list[ast.stmt], scope: tuple[str, ...]) -> None:
        for position, node in enumerate(body):
            if position == 0 and _is_docstring(node):
                continue
            in_region = any(first < node.lineno and node.end_lineno < last
                            for first, last in spans)
            syntax = _header(node) if isinstance(node, DEFINITIONS) else \
                ast.dump(node, include_attributes=False)
            statement = Statement(scope, syntax, node.lineno, lines[node.lineno - 1].strip())
            (inside if in_region else given).append(statement)
            if isinstance(node, DEFINITIONS) and not in_region:
                visit(node.body, scope + (node.name,))

    visit(tree.body, ())
    return given, inside


def limit_parser() -> None:
    """The bounds of a process that parses a submission: ``PARSER_MEMORY_BYTES`` more than it
    holds already (a forked parser holds its parent's pages), ``PARSER_CPU_SECONDS``."""
    with open("/proc/self/statm") as stream:
        held = int(stream.read().split()[0]) * resource.getpagesize()
    memory = held + PARSER_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (PARSER_CPU_SECONDS, PARSER_CPU_SECONDS))


def statements_json(source: str) -> str:
    """``statements`` of ``source`` as JSON, ``null`` when it does not parse."""
    try:
        found = [[list(statement) for statement in part] for part in statements(source)]
    except SyntaxError:
        found = None
    return json.dumps(found)


def print_statements() -> None:
    """The child of ``submission_statements``: limits first, then the code from stdin."""
    limit_parser()
    sys.stdout.write(statements_json(sys.stdin.buffer.read().decode("utf-8")))
