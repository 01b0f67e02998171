"""Mutants of the reference solution: the bugs students make, one at a time.

Each operator looks at one node of the syntax tree inside a solution region of
``reference/solution.py`` and proposes replacements, each with a one-line reason
("dropped the bias", "no max shift"). A mutant is the reference with that one
statement rewritten (``ast.unparse`` of the statement, spliced back by line), so
everything else, the given code included, stays byte for byte. Mutants whose code
is the same as another's are kept once; the MNIST region is left alone.
"""
from __future__ import annotations

import ast
import copy
import dataclasses
import difflib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from grader.given_code.syntax import parse, regions
from reference import common

Replacement = tuple[ast.AST | list[ast.stmt], str]   # the new node(s), why it is a bug
Operator = Callable[[ast.AST], Iterator[Replacement]]

OPPOSITE_OPERATOR = {ast.Add: (ast.Sub, "+ instead of -"), ast.Sub: (ast.Add, "- instead of +"),
                     ast.Mult: (ast.Div, "/ instead of *"), ast.Div: (ast.Mult, "* instead of /")}
SWAPPED_CALLS = {"sum": ("mean", "a mean instead of a sum"),
                 "mean": ("sum", "a sum instead of a mean"),
                 "max": ("min", "the minimum instead of the maximum"),
                 "maximum": ("minimum", "np.minimum instead of np.maximum"),
                 "exp": ("exp2", "2**x instead of e**x"), "log": ("log10", "log10 instead of ln")}
COMPARISONS = {ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Lt: ast.LtE, ast.LtE: ast.Lt}
SWAPPED_ATTRIBUTES = {"_lr": ("_momentum", "the momentum used as the learning rate"),
                      "_momentum": ("_lr", "the learning rate used as the momentum")}


@dataclass(frozen=True)
class Mutant:
    id: str
    section: str
    operator: str
    explanation: str
    line: int
    original: str   # the statement's lines before ...
    mutated: str    # ... and after
    source: str

    def diff(self) -> str:
        return "".join(difflib.unified_diff(
            self.original.splitlines(keepends=True), self.mutated.splitlines(keepends=True),
            "reference/solution.py", "mutant", lineterm="\n", n=0))


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


# ------------------------------------------------------------------ operators
def flip_operator(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.BinOp) and type(node.op) in OPPOSITE_OPERATOR:
        new, why = OPPOSITE_OPERATOR[type(node.op)]
        yield ast.BinOp(node.left, new(), node.right), f"{why} in `{_text(node)}`"


def swap_operands(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Sub, ast.Div, ast.MatMult)) \
            and _text(node.left) != _text(node.right):
        yield ast.BinOp(node.right, node.op, node.left), f"operands swapped in `{_text(node)}`"


def drop_operand(node: ast.AST) -> Iterator[Replacement]:
    """A term forgotten (the bias, the learning rate, the normalisation by the batch)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        yield node.left, f"dropped `{_text(node.right)}` from `{_text(node)}`"
        if isinstance(node.op, ast.Add):
            yield node.right, f"dropped `{_text(node.left)}` from `{_text(node)}`"
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        yield node.left, f"`{_text(node)}` without its factor `{_text(node.right)}`"
        if isinstance(node.op, ast.Mult):
            yield node.right, f"`{_text(node)}` without its factor `{_text(node.left)}`"


def double_division(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        squared = ast.BinOp(node.right, ast.Mult(), copy.deepcopy(node.right))
        yield ast.BinOp(node.left, ast.Div(), squared), \
            f"divided twice by `{_text(node.right)}` in `{_text(node)}`"


def negate_return(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Return) and node.value is not None:
        yield ast.Return(ast.UnaryOp(ast.USub(), node.value)), "the result's sign flipped"


def forget_return(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Return) and node.value is not None:
        yield ast.Expr(node.value), "the result computed but not returned"


def remove_negation(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node.operand, f"the minus sign of `{_text(node)}` forgotten"


def change_axis(node: ast.AST) -> Iterator[Replacement]:
    """Wrong axis, a reduction over the whole batch, keepdims forgotten."""
    if not isinstance(node, ast.Call):
        return
    for index, keyword in enumerate(node.keywords):
        others = node.keywords[:index] + node.keywords[index + 1:]
        if keyword.arg == "axis" and isinstance(keyword.value, ast.Constant):
            axis = keyword.value.value
            for other in ({0: (1,), 1: (0, -1)}.get(axis, (0,))):
                yield ast.Call(node.func, node.args, others + [
                    ast.keyword("axis", ast.Constant(other))]), \
                    f"axis={other} instead of axis={axis} in `{_text(node)}`"
            yield ast.Call(node.func, node.args, [k for k in others if k.arg != "keepdims"]), \
                f"reduced over the whole batch (no axis) in `{_text(node)}`"
        if keyword.arg == "keepdims":
            yield ast.Call(node.func, node.args, others), f"keepdims dropped in `{_text(node)}`"


def no_max_shift(node: ast.AST) -> Iterator[Replacement]:
    """Softmax without subtracting each row's maximum (overflows on large logits)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and \
            isinstance(node.right, ast.Call) and isinstance(node.right.func, ast.Attribute) \
            and node.right.func.attr in ("max", "amax"):
        yield node.left, f"no max shift: `{_text(node)}` became `{_text(node.left)}`"


def transpose(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Attribute) and node.attr == "T":
        yield node.value, f"`{_text(node)}` not transposed"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        for side in ("left", "right"):
            operand = getattr(node, side)
            if not (isinstance(operand, ast.Attribute) and operand.attr == "T"):
                changed = copy.copy(node)
                setattr(changed, side, ast.Attribute(operand, "T", ast.Load()))
                yield changed, f"`{_text(operand)}` transposed in `{_text(node)}`"


def swap_call(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in SWAPPED_CALLS:
        new, why = SWAPPED_CALLS[node.func.attr]
        yield ast.Call(ast.Attribute(node.func.value, new, ast.Load()), node.args,
                       node.keywords), f"{why} in `{_text(node)}`"


def boundary(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARISONS:
        changed = ast.Compare(node.left, [COMPARISONS[type(node.ops[0])]()], node.comparators)
        yield changed, f"boundary moved: `{_text(node)}` became `{_text(changed)}`"


def large_eps(node: ast.AST) -> Iterator[Replacement]:
    """An epsilon far too large, where the reference guards a division or a logarithm."""
    if isinstance(node, ast.Attribute) and node.attr in ("tiny", "eps"):
        yield ast.Constant(1e-3), f"an epsilon of 1e-3 instead of `{_text(node)}`"


def off_by_one(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and \
            isinstance(node.slice.value, int):
        for index in (node.slice.value + 1, -1):
            yield ast.Subscript(node.value, ast.Constant(index), node.ctx), \
                f"index {index} instead of {node.slice.value} in `{_text(node)}`"


def swap_hyperparameters(node: ast.AST) -> Iterator[Replacement]:
    if isinstance(node, ast.Attribute) and node.attr in SWAPPED_ATTRIBUTES:
        new, why = SWAPPED_ATTRIBUTES[node.attr]
        yield ast.Attribute(node.value, new, node.ctx), why


def in_place_update(node: ast.AST) -> Iterator[Replacement]:
    """``return p - step`` as ``p -= step; return p``: the caller's array changed under it."""
    if isinstance(node, ast.Return) and isinstance(node.value, ast.BinOp) and \
            isinstance(node.value.left, ast.Name) and \
            isinstance(node.value.op, (ast.Add, ast.Sub, ast.Mult)):
        target = node.value.left
        yield [ast.AugAssign(ast.Name(target.id, ast.Store()), node.value.op, node.value.right),
               ast.Return(ast.Name(target.id, ast.Load()))], \
            f"`{target.id}` updated in place (the caller's array changes)"


def state_not_kept(node: ast.AST) -> Iterator[Replacement]:
    """``updater.inertia = ...`` into a local variable: the inertia restarts at every step."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
            isinstance(node.targets[0], ast.Attribute):
        name = node.targets[0].attr.lstrip("_")
        yield ast.Assign([ast.Name(name, ast.Store())], node.value), \
            f"`{_text(node.targets[0])}` kept in a local variable: not carried to the next step"


OPERATORS: dict[str, Operator] = {  # the specific first: a mutant two give keeps the first's name
    "no_max_shift": no_max_shift, "large_eps": large_eps,
    "swap_hyperparameters": swap_hyperparameters, "state_not_kept": state_not_kept,
    "in_place_update": in_place_update, "double_division": double_division,
    "off_by_one": off_by_one, "transpose": transpose, "change_axis": change_axis,
    "boundary": boundary, "swap_call": swap_call, "flip_operator": flip_operator,
    "swap_operands": swap_operands, "drop_operand": drop_operand,
    "negate_return": negate_return, "forget_return": forget_return,
    "remove_negation": remove_negation,
}


# ------------------------------------------------------------------ applying them
def _statements(tree: ast.Module, spans: list[tuple[int, int]], section_of_class: dict[str, str]
                ) -> Iterator[tuple[str, ast.stmt]]:
    """(section, statement) for every statement inside a unit section's solution region."""
    for klass in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        section = section_of_class.get(klass.name)
        if section is None:
            continue
        for node in ast.walk(klass):
            if isinstance(node, ast.stmt) and not isinstance(
                    node, (ast.FunctionDef, ast.ClassDef)) and any(
                    first < node.lineno and node.end_lineno < last for first, last in spans):
                yield section, node


def _replace(statement: ast.stmt, target: ast.AST, new: ast.AST | list[ast.stmt]) -> list[ast.stmt]:
    """The statement with ``target`` (one of its nodes, or itself) replaced by ``new``."""
    if target is statement:
        return new if isinstance(new, list) else [new]
    changed = copy.deepcopy(statement)
    twin = dict(zip(map(id, ast.walk(statement)), ast.walk(changed)))[id(target)]
    for parent in ast.walk(changed):
        for field, value in ast.iter_fields(parent):
            if value is twin:
                setattr(parent, field, new)
            elif isinstance(value, list):
                value[:] = [new if item is twin else item for item in value]
    return [changed]


def _splice(lines: list[str], statement: ast.stmt, new: list[ast.stmt]) -> tuple[str, str, str]:
    indent = lines[statement.lineno - 1][:statement.col_offset]
    original = "".join(lines[statement.lineno - 1:statement.end_lineno])
    mutated = "".join(indent + line + "\n" for stmt in new
                      for line in ast.unparse(ast.fix_missing_locations(stmt)).splitlines())
    source = "".join(lines[:statement.lineno - 1]) + mutated + "".join(lines[statement.end_lineno:])
    return original, mutated, source


def generate_mutants(reference: str, sections: tuple[common.Section, ...] | None = None
                     ) -> list[Mutant]:
    """Every mutant of ``reference``'s unit-section regions, each once, in source order: the
    regions of each unit section's graded class (``sections``: those of the bundled cases)."""
    sections = common.UNIT_SECTIONS if sections is None else sections
    section_of_class = {section.graded_class: section.name for section in sections
                        if section.kind == "unit"}
    tree = parse(reference)
    spans = regions(reference) or []
    lines = reference.splitlines(keepends=True)
    found: dict[str, Mutant] = {}
    for section, statement in _statements(tree, spans, section_of_class):
        nodes = [node for node in ast.walk(statement)
                 if node is statement or not isinstance(node, ast.stmt)]
        for name, operator in OPERATORS.items():
            for node in nodes:
                for new, why in operator(node):
                    original, mutated, source = _splice(lines, statement,
                                                        _replace(statement, node, new))
                    if mutated.strip() == original.strip() or source in found:
                        continue
                    try:
                        compile(source, "mutant.py", "exec")
                    except SyntaxError:
                        continue
                    found[source] = Mutant("", section, name, why, statement.lineno, original,
                                           mutated, source)
    numbered, counts = [], Counter()
    for mutant in found.values():  # in source order: statement by statement
        counts[mutant.section] += 1
        number = counts[mutant.section]
        numbered.append(dataclasses.replace(mutant, id=f"{mutant.section}-{number:02d}"))
    return numbered
