"""A solution file's syntax: its ``# Your code here`` regions and an outline of its statements.

Standard library only and small: a bounded child process imports it to parse a
submission (see ``grader.given_code.check``), so it loads little more than ``ast``.
The outline holds what the given-code check compares, as plain data (JSON from
the child): the child does the parsing, the grader only compares.
"""
from __future__ import annotations

import ast
import json
import re
import resource
import sys
import threading
from collections import namedtuple
from collections.abc import Iterator

# Case and spaces vary in students' files: "#your code here\/", "# YOUR CODE HERE \ /"
BEGIN_MARKER = re.compile(r"#\s*your\s*code\s*here\s*\\\s*/", re.IGNORECASE)
END_MARKER = re.compile(r"#\s*your\s*code\s*here\s*/\s*\\", re.IGNORECASE)
NEWLINE = re.compile(r"\r\n|\r|\n")  # Python's line ends, as its line numbers count them
PARSER_MEMORY_BYTES = 512 << 20
PARSER_CPU_SECONDS = 10
TEXT_CHARS = 500  # of a statement's text in the outline: enough to show where two differ
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
NEW_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
ATTRIBUTE_SETTERS = ("setattr", "delattr")

# One statement of a file, outside a region or in one (bare strings are left out):
#   scope: names of the classes and functions around it; name: a definition's name, else "";
#   syntax: what it is, without positions (a definition: its header only, see ``_header``);
#   line, text: where, and its first line as ``ast.unparse`` writes it;
#   in_region: inside a solution region; holds_region: a definition with a region inside;
#   binds: (name, origin) for each name it binds in its own scope, origin being what an
#     import binds ("numpy", "interface.Layer"), else "";
#   alters: names whose attributes or items it assigns or deletes (``Layer.x = f``);
#   reads: names it reads; local_names: the names it binds when all it does is bind local
#     variables (an assignment in a function), else empty.
_Statement = namedtuple("_Statement", ["scope", "name", "syntax", "line", "text", "in_region",
                                       "holds_region", "binds", "alters", "reads",
                                       "local_names"])


class Statement(_Statement):
    """One statement of a file's outline (fields above), plain data to cross a pipe."""

    __slots__ = ()

    @classmethod
    def from_json(cls, row: list) -> Statement:
        """A statement back from the child's JSON (lists for tuples)."""
        return cls(tuple(row[0]), *row[1:])


def scan_markers(source: str) -> tuple[list[tuple[int, int]], str | None]:
    """Line ranges (first, last) of the solution regions up to the first marker that does not
    pair up, and what is wrong with that marker (None when they all pair up)."""
    found, start = [], None
    for number, line in enumerate(NEWLINE.split(source), start=1):
        if BEGIN_MARKER.search(line):
            if start is not None:
                return found, (f"the begin marker at line {number} is inside the region begun "
                               f"at line {start}")
            start = number
        elif END_MARKER.search(line):
            if start is None:
                return found, f"the end marker at line {number} has no begin marker before it"
            found.append((start, number))
            start = None
    if start is not None:
        return found, f"the begin marker at line {start} has no end marker"
    return found, None


def regions(source: str) -> list[tuple[int, int]] | None:
    """Line ranges (first, last) of the solution regions; None if the markers do not pair up."""
    found, problem = scan_markers(source)
    return None if problem else found


def _is_bare_string(node: ast.stmt) -> bool:
    """A docstring, or a string used as a comment: no code."""
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and \
        isinstance(node.value.value, str)


def _bare(arguments: ast.arguments) -> ast.arguments:
    """Arguments without their annotations: names, kinds and defaults."""
    def plain(item: ast.arg | None) -> ast.arg | None:
        return item and ast.arg(arg=item.arg)

    return ast.arguments(
        posonlyargs=[plain(item) for item in arguments.posonlyargs],
        args=[plain(item) for item in arguments.args], vararg=plain(arguments.vararg),
        kwonlyargs=[plain(item) for item in arguments.kwonlyargs],
        kw_defaults=arguments.kw_defaults, kwarg=plain(arguments.kwarg),
        defaults=arguments.defaults)


def _shell(node: ast.stmt, bare: bool) -> ast.stmt:
    """A definition without its body; ``bare``: without annotations either."""
    fields = {field: getattr(node, field) for field in node._fields}
    fields["body"] = []
    if bare and not isinstance(node, ast.ClassDef):
        fields.update(args=_bare(node.args), returns=None, type_comment=None)
    return ast.copy_location(type(node)(**fields), node)


def _header(node: ast.stmt) -> str:
    """What a definition promises its callers: a class's name, bases, keywords and decorators;
    a function's name, arguments with their defaults and decorators (annotations aside)."""
    return ast.dump(_shell(node, bare=True), include_attributes=False)


def _text(node: ast.stmt) -> str:
    """A readable line for a statement: its first line as ``ast.unparse`` writes it (a
    definition: its header, decorators first)."""
    if isinstance(node, DEFINITIONS):
        text = " ".join(ast.unparse(_shell(node, bare=False)).splitlines())
    else:
        text = ast.unparse(node).splitlines()[0]
    return text[:TEXT_CHARS]


def _header_parts(node: ast.stmt) -> list[ast.AST]:
    """What of a definition runs where it stands: decorators, bases, keywords, defaults."""
    parts = [*node.decorator_list]
    if isinstance(node, ast.ClassDef):
        return parts + node.bases + node.keywords
    return parts + node.args.defaults + [default for default in node.args.kw_defaults if default]


def _same_scope(node: ast.AST) -> Iterator[ast.AST]:
    """``node`` and the nodes under it that run in its scope: not the bodies of definitions,
    lambdas and comprehensions."""
    yield node
    if isinstance(node, NEW_SCOPES):
        return
    for child in _header_parts(node) if isinstance(node, DEFINITIONS) else \
            ast.iter_child_nodes(node):
        yield from _same_scope(child)


def _imported(node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """(name bound, what it is) for each name an import binds."""
    if isinstance(node, ast.Import):
        return [(alias.asname or alias.name.split(".")[0], alias.name if alias.asname else
                 alias.name.split(".")[0]) for alias in node.names]
    module = "." * node.level + (node.module or "")
    return [(alias.asname or alias.name, f"{module}.{alias.name}") for alias in node.names
            if alias.name != "*"]


def _root(node: ast.AST) -> str | None:
    """The name an attribute or item chain starts from: ``Layer`` for ``Layer.f.x``."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _binds_and_alters(node: ast.stmt) -> tuple[list[tuple[str, str]], list[str]]:
    """The names ``node`` binds in its own scope (with what an import binds) and the names
    whose attributes or items it assigns or deletes."""
    binds, alters = [], []
    for part in _same_scope(node):
        storing = isinstance(getattr(part, "ctx", None), (ast.Store, ast.Del))
        if isinstance(part, ast.Name) and storing:
            binds.append((part.id, ""))
        elif isinstance(part, DEFINITIONS):
            binds.append((part.name, ""))
        elif isinstance(part, (ast.Import, ast.ImportFrom)):
            binds += _imported(part)
        elif isinstance(part, ast.ExceptHandler) and part.name:
            binds.append((part.name, ""))
        elif isinstance(part, (ast.Attribute, ast.Subscript)) and storing:
            alters.append(_root(part))
        elif isinstance(part, ast.Call) and isinstance(part.func, ast.Name) and \
                part.func.id in ATTRIBUTE_SETTERS and part.args:
            alters.append(_root(part.args[0]))
    return binds, [name for name in dict.fromkeys(alters) if name]


def _reads(node: ast.stmt) -> list[str]:
    """The names ``node`` reads (a definition: in its header)."""
    parts = _header_parts(node) if isinstance(node, DEFINITIONS) else [node]
    return sorted({name.id for part in parts for name in ast.walk(part)
                   if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load)})


def _names_only(target: ast.expr) -> bool:
    """An assignment target made of plain names only (``x``, ``a, *b``)."""
    if isinstance(target, ast.Starred):
        return _names_only(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return all(_names_only(element) for element in target.elts)
    return isinstance(target, ast.Name)


def _local_names(node: ast.stmt, binds: list[tuple[str, str]], in_function: bool) -> list[str]:
    """The names ``node`` binds when all it does is assign local variables of a function."""
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, ast.AnnAssign) and node.value else []
    if in_function and targets and all(_names_only(target) for target in targets):
        return [name for name, _ in binds]
    return []


# CPython 3.11 keeps one AST-building depth counter per interpreter (gh-106905): a parse in
# another thread meanwhile (ours, or a library's: 3.11 parses a source line to place a
# traceback's carets) fails this one with a spurious SystemError. Seen in a Dask worker
# grading while its peer was lost.
_PARSING = threading.Lock()
_DEPTH_MISMATCH = "AST constructor recursion depth mismatch"
PARSE_ATTEMPTS = 3


def parse(text: str) -> ast.Module:
    """``ast.parse`` that other threads' parses cannot fail: ours wait for each other, and
    the spurious error a foreign thread's parse can cause is parsed again."""
    with _PARSING:
        for _ in range(PARSE_ATTEMPTS - 1):
            try:
                return ast.parse(text)
            except SystemError as error:
                if _DEPTH_MISMATCH not in str(error):
                    raise
        return ast.parse(text)


def outline(source: str) -> list[Statement]:
    """Every statement of ``source`` outside the bodies of definitions inside the regions,
    in source order; raises ``SyntaxError`` when it does not parse."""
    text = source.lstrip("\ufeff")
    tree = parse(text)
    spans = regions(text) or []
    found: list[Statement] = []

    def visit(body: list[ast.stmt], scope: tuple[str, ...], in_function: bool) -> None:
        for node in body:
            if _is_bare_string(node):
                continue
            first, last = node.lineno, node.end_lineno
            in_region = any(begin < first and last < end for begin, end in spans)
            definition = isinstance(node, DEFINITIONS)
            holds_region = definition and any(first < begin < last for begin, _ in spans)
            binds, alters = _binds_and_alters(node)
            found.append(Statement(
                scope, node.name if definition else "",
                _header(node) if definition else ast.dump(node, include_attributes=False),
                first, _text(node), in_region, holds_region, binds, alters, _reads(node),
                _local_names(node, binds, in_function)))
            if definition and not in_region:
                visit(node.body, scope + (node.name,), not isinstance(node, ast.ClassDef))

    visit(tree.body, (), False)
    return found


def limit_parser() -> None:
    """The bounds of a process that parses a submission: ``PARSER_MEMORY_BYTES`` more than it
    holds already (a forked parser holds its parent's pages), ``PARSER_CPU_SECONDS``."""
    with open("/proc/self/statm") as stream:
        held = int(stream.read().split()[0]) * resource.getpagesize()
    memory = held + PARSER_MEMORY_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (PARSER_CPU_SECONDS, PARSER_CPU_SECONDS))


def outline_json(source: str) -> str:
    """``outline`` of ``source`` as JSON, ``null`` when it does not parse."""
    try:
        found = outline(source)
    except SyntaxError:
        found = None
    return json.dumps(found)


def print_outline() -> None:
    """The child of ``submission_outline``: limits first, then the code from stdin."""
    limit_parser()
    sys.stdout.write(outline_json(sys.stdin.buffer.read().decode("utf-8")))
