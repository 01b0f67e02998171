"""Generate ``test_cases/`` by running the reference solution on seeded inputs.

The sections and their cases are declared in ``grading.toml`` (``[[sections]]``): each case
names a builder (``BUILDERS``: a layer's forward and backward, a loss and its gradient, an
optimizer's trajectories) and, for layers and losses, an input maker of ``MAKERS`` by name
with its shape and scale. A builder draws the inputs from a seeded generator and describes
what to call; the expected outputs come from executing the reference solution through the
same ``common.execute_case`` the students' runner and the grader use. The sections' public
description goes to ``public/sections.json`` (``common.load_sections``).

Same seed, same inputs, byte for byte, on any CPU: inputs use only the
generator's draws and correctly rounded arithmetic (no vectorised ``exp``,
``log`` or ``pow``, whose last bits depend on the CPU's instruction set). The
expected outputs do go through such functions; a regeneration that agrees with
the committed cases within ``AGREEMENT_RTOL`` (far below the grading tolerance)
leaves them untouched.

Usage: ``python -m reference.generate [--out DIR] [--seed N]``.
"""
from __future__ import annotations

import argparse
import functools
import inspect
import json
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from grader.config import (
    ConfigError,
    LayerCase,
    LossCase,
    OptimizerCase,
    SectionSettings,
    load_config,
)
from reference import common
from reference.common import Case

REFERENCE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = REFERENCE_DIR.parent / "test_cases"
DEFAULT_SEED = 20261126
AGREEMENT_RTOL = 1e-10  # grading compares with rtol=1e-5, atol=1e-6: a million times finer,
AGREEMENT_ATOL = 1e-12  # and still wider than the last bits another CPU changes
VISIBILITIES = ("public", "hidden")

# draws a case's inputs from the section's random stream, running the reference (``solution``,
# ``interface``) where shapes depend on it
Builder = Callable[[np.random.Generator, object, object], tuple[Case, dict[str, np.ndarray]]]
CaseSpec = LayerCase | LossCase | OptimizerCase


class GenerationError(Exception):
    """A section or case of ``grading.toml`` cannot be built (an unknown maker, ...)."""


# ------------------------------------------------------------------ input makers
def _away_from_zero(values: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """Push values off zero so no verdict hinges on ReLU'(0)."""
    return np.where(np.abs(values) < margin, np.copysign(margin, values) + values, values)


def normal(rng, shape, scale=1.0):
    return rng.normal(0.0, scale, shape)


def normal_off_zero(rng, shape, scale=1.0):
    """Normal values 1e-3 or more from 0: no verdict hinges on ReLU'(0)."""
    return _away_from_zero(rng.normal(0.0, scale, shape))


def _far_apart_logits(rng):
    """Rows near +1000 and -1000: only a per-row maximum keeps exp finite and nonzero."""
    base = np.array([[1000.0], [-1000.0], [999.0], [-998.0], [0.0]])
    return base + rng.normal(0.0, 3.0, (5, 8))


def _large_logits(rng):
    """The public twin of the far-apart case, so students meet overflow locally."""
    return np.array([[800.0], [-700.0], [0.0]]) + rng.normal(0.0, 3.0, (3, 6))


def _peaked_logits(rng):
    """One dominant logit in four rows: most of their probabilities underflow towards zero
    (and their gradients with them); two ordinary rows, so no quantity is near zero overall."""
    x = rng.normal(0.0, 1.0, (6, 10))
    x[np.arange(4), rng.integers(0, 10, 6)[:4]] += 600.0  # six draws: the next cases' stay
    return x


def _wide_spread_rows(rng):
    """Four rows whose logits span more than 709 (exp's range): only the row's maximum, not
    its minimum or a constant, keeps every exp finite; two ordinary rows, whose gradients are
    not near zero as the spread rows' are."""
    x = rng.normal(0.0, 3.0, (6, 6))
    x[:4, 0] += 900.0
    x[:4, 1] -= 900.0
    return x


def _probabilities(rng, n, d, floor=0.05):
    """Rows of probabilities whose smallest value is at least ``floor``."""
    raw = rng.dirichlet(np.ones(d), size=n)
    return floor + (1.0 - floor * d) * raw


def _one_hot(rng, n, d):
    return np.eye(d)[rng.integers(0, d, n)]


def one_hot_probabilities(rng, shape):
    """One-hot labels, and predicted probabilities of 0.02 or more."""
    n, d = shape
    return _one_hot(rng, n, d), _probabilities(rng, n, d, 0.02)


def _decimals(rng, low: int, high: int, exponents: np.ndarray) -> np.ndarray:
    """Values ``k * 10**-e`` (k drawn in [low, high)), parsed from text: exact on every CPU."""
    digits = rng.integers(low, high, exponents.size)
    return np.array([float(f"{k}e-{e}") for k, e in zip(digits, exponents.ravel())]
                    ).reshape(exponents.shape)


def _with_true_class(y_gt: np.ndarray, true_class: np.ndarray, others: np.ndarray,
                     rest_column: np.ndarray | None = None) -> np.ndarray:
    """Rows of probabilities: ``true_class`` where ``y_gt`` is one, ``others`` elsewhere, and
    what is left of one in ``rest_column`` (a wrong class per row), or spread over the wrong
    classes in proportion to ``others``."""
    wrong = np.where(y_gt == 1, 0.0, others)
    left = 1.0 - true_class
    if rest_column is None:
        wrong *= left[:, None] / wrong.sum(axis=1, keepdims=True)
    else:
        rows = np.arange(y_gt.shape[0])
        wrong[rows, rest_column] = 0.0
        wrong[rows, rest_column] = left - wrong.sum(axis=1)
    return wrong + y_gt * true_class[:, None]


def _tiny_wrong_class_probabilities(rng):
    """Wrong classes given 1e-30 .. 1e-200 beside a true class of 0.3 .. 0.9 (and one wrong
    class holding the rest): the losses are 0.1 .. 1.2, far from 0."""
    n, d = 6, 5
    labels = rng.integers(0, d, n)
    y_gt = np.eye(d)[labels]
    tiny = _decimals(rng, 1, 10, rng.integers(30, 200, (n, d)))
    true_class = _decimals(rng, 3, 10, np.ones(n, dtype=int))
    rest_column = (labels + rng.integers(1, d, n)) % d  # never the true class
    return y_gt, _with_true_class(y_gt, true_class, tiny, rest_column)


def _confident_probabilities(rng):
    """Four rows whose true class is within 1e-9 of one (a loss of about 1e-9, inside atol),
    then two ordinary rows (true class 0.2 .. 0.6): a loss of zeros fails them."""
    confident, ordinary, d = 4, 2, 3
    y_gt = _one_hot(rng, confident + ordinary, d)
    rest = rng.uniform(1e-10, 1e-9, (confident, d))
    true_class = np.concatenate([1.0 - np.where(y_gt[:confident] == 1, 0.0, rest).sum(axis=1),
                                 _decimals(rng, 2, 7, np.ones(ordinary, dtype=int))])
    others = np.concatenate([rest, rng.uniform(0.5, 1.0, (ordinary, d))])
    y_pred = np.where(y_gt == 1, 0.0, others)
    y_pred[confident:] *= (1.0 - true_class[confident:, None]) / \
        y_pred[confident:].sum(axis=1, keepdims=True)
    return y_gt, y_pred + y_gt * true_class[:, None]


def _confidently_wrong_probabilities(rng):
    """True classes given 1e-4 .. 5e-4: an epsilon of 1e-3 (added or clipped) changes the loss
    and its gradient by 70% or more; one of 1e-7 or less by 0.1% at most (the case's rtol)."""
    n, d = 5, 4
    y_gt = _one_hot(rng, n, d)
    true_class = _decimals(rng, 1, 6, np.full(n, 4))
    return y_gt, _with_true_class(y_gt, true_class, _probabilities(rng, n, d, 0.05))


def _tied_logits(rng):
    """Rows with equal logits (uniform outputs) and rows with two tied maxima."""
    rows = np.zeros((4, 7))
    rows[2:, :2] = 5.0
    return rows + np.array([[0.0], [-3.0], [1.0], [-2.0]])


def _very_negative_logits(rng):
    return rng.normal(-2000.0, 1.0, (3, 5))


def _uniform_predictions(rng):
    return _one_hot(rng, 5, 4), np.full((5, 4), 0.25)


MAKERS: dict[str, Callable] = {  # grading.toml's `inputs`: maker(rng, **shape and scale)
    "normal": normal, "normal_off_zero": normal_off_zero,
    "far_apart_logits": _far_apart_logits, "large_logits": _large_logits,
    "peaked_logits": _peaked_logits, "wide_spread_rows": _wide_spread_rows,
    "tied_logits": _tied_logits, "very_negative_logits": _very_negative_logits,
    "one_hot_probabilities": one_hot_probabilities,
    "tiny_wrong_class_probabilities": _tiny_wrong_class_probabilities,
    "confident_probabilities": _confident_probabilities,
    "confidently_wrong_probabilities": _confidently_wrong_probabilities,
    "uniform_predictions": _uniform_predictions,
}
PARAMETER_MAKERS: dict[str, Callable] = {  # a layer case's `parameters`: maker(rng, shape)
    "normal": lambda rng, shape: rng.normal(size=shape),
    "he_normal": lambda rng, shape: rng.normal(0.0, np.sqrt(2.0 / np.prod(shape[:-1])), shape),
}


# ---------------------------------------------------------------------- builders
def _maker(section: str, spec: LayerCase | LossCase) -> Callable:
    """The case's input maker with its shape and scale, checked against what it takes."""
    where = f"section {section!r}, case {spec.name!r}"
    maker = MAKERS.get(spec.inputs)
    if maker is None:
        raise GenerationError(f"{where}: unknown input maker {spec.inputs!r} (the makers: "
                              f"{', '.join(sorted(MAKERS))})")
    params = {key: getattr(spec, key) for key in ("shape", "scale")
              if getattr(spec, key, None) is not None}
    try:
        inspect.signature(maker).bind(None, **params)
    except TypeError:
        takes = list(inspect.signature(maker).parameters)[1:]
        raise GenerationError(f"{where}: input maker {spec.inputs!r} takes "
                              f"{', '.join(takes) or 'no shape or scale'}, given "
                              f"{', '.join(params) or 'none'}") from None
    for name, maker_name in getattr(spec, "parameters", {}).items():
        if maker_name not in PARAMETER_MAKERS:
            raise GenerationError(f"{where}: parameter {name!r}: unknown maker {maker_name!r} "
                                  f"(the makers: {', '.join(sorted(PARAMETER_MAKERS))})")
    return functools.partial(maker, **params)


def layer_case(section: str, spec: LayerCase, layer: str) -> Builder:
    """The inputs from the maker; the output gradient of the shape the reference layer gives;
    then each parameter's values (set before the call, their gradients checked)."""
    make = _maker(section, spec)

    def build(rng, solution, interface):
        x = make(rng)
        reference = getattr(solution, layer)(*spec.args, input_shape=x.shape[1:])
        reference.build(common.stand_in_optimizer(interface))
        inputs = {"inputs": x,
                  "grad_outputs": rng.normal(size=(x.shape[0], *reference.output_shape))}
        for name, maker in spec.parameters.items():
            inputs[name] = PARAMETER_MAKERS[maker](rng, getattr(reference, name).shape)
        params = {"layer": layer, "args": list(spec.args)}
        if spec.parameters:
            params["parameter_grads"] = [f"{name}_grad" for name in spec.parameters]
        return Case(name=spec.name, section=section, op="layer", description=spec.description,
                    params=params, rtol=spec.rtol, atol=spec.atol), inputs
    return build


def loss_case(section: str, spec: LossCase, loss: str) -> Builder:
    make = _maker(section, spec)

    def build(rng, solution, interface):
        y_gt, y_pred = make(rng)
        return Case(name=spec.name, section=section, op="loss", description=spec.description,
                    params={"loss": loss}, rtol=spec.rtol, atol=spec.atol), \
            {"y_gt": y_gt, "y_pred": y_pred}
    return build


def optimizer_case(section: str, spec: OptimizerCase, optimizer: str) -> Builder:
    def build(rng, solution, interface):
        inputs = {}
        for i, shape in enumerate(spec.shapes):
            inputs[f"parameter_{i}"] = rng.normal(size=shape)
            inputs[f"grads_{i}"] = rng.normal(size=(spec.steps, *shape))
        params = {"optimizer": optimizer, "kwargs": dict(spec.kwargs),
                  "n_parameters": len(spec.shapes), "steps": spec.steps}
        return Case(name=spec.name, section=section, op="optimizer",
                    description=spec.description, params=params, rtol=spec.rtol,
                    atol=spec.atol), inputs
    return build


BUILDERS: dict[str, Callable[[str, CaseSpec, str], Builder]] = {
    "layer": layer_case, "loss": loss_case, "optimizer": optimizer_case}


def case_builder(section: SectionSettings, spec: CaseSpec) -> Builder:
    """The builder of one case entry, calling the section's class."""
    return BUILDERS[spec.builder](section.name, spec, section.graded_class)


def section_builders(section: SectionSettings) -> dict[str, list[Builder]]:
    return {visibility: [case_builder(section, spec) for spec in getattr(section, visibility)]
            for visibility in VISIBILITIES}


def declared_sections(cases_dir: Path = DEFAULT_OUT) -> list[SectionSettings]:
    """The sections ``grading.toml`` of ``cases_dir`` declares, or when it declares none (a
    folder of cases with limits only), those of the grader's own ``test_cases``."""
    for folder in dict.fromkeys((Path(cases_dir), DEFAULT_OUT)):
        sections = load_config(folder).sections
        if sections:
            return sections
    raise GenerationError(f"{DEFAULT_OUT / 'grading.toml'} declares no [[sections]]")


# ----------------------------------------------------------------------- writing
def write_section(out: Path, section: common.Section, cases: list[tuple[Case, dict, dict]]) -> None:
    inputs_dir, expected_dir = common.input_dir(out, section), common.expected_dir(out, section)
    inputs_dir.mkdir(parents=True)
    expected_dir.mkdir(parents=True)
    records = {"section": section.name, "cases": [case.to_json() for case, _, _ in cases]}
    (inputs_dir / common.CASES_FILE).write_text(json.dumps(records, indent=2) + "\n",
                                                encoding="utf-8")
    for case, inputs, expected in cases:
        common.save_npz(inputs_dir / f"{case.name}.npz", inputs)
        common.save_npz(expected_dir / f"{case.name}.npz", expected)


def write_sections_file(out: Path, sections: list[SectionSettings]) -> None:
    """The sections' public description, beside the public cases (and so in the kit)."""
    path = Path(out) / "public" / common.SECTIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"sections": [section.record() for section in sections]},
                               indent=2) + "\n", encoding="utf-8")


def write_cases(out: Path, seed: int, sections: list[SectionSettings] | None = None) -> None:
    """Write ``out/public`` and ``out/hidden`` afresh (``sections``: the declared ones)."""
    sections = declared_sections() if sections is None else sections
    solution, interface = common.import_solution(REFERENCE_DIR)
    for visibility in VISIBILITIES:
        target = Path(out) / visibility
        for section in (section for section in sections if section.kind == "unit"):
            # one stream per (section, visibility), keyed by names: adding a case or a section
            # elsewhere changes nothing here
            rng = np.random.default_rng([seed, zlib.crc32(section.name.encode()),
                                         zlib.crc32(visibility.encode())])
            cases = []
            for build in section_builders(section)[visibility]:
                case, inputs = build(rng, solution, interface)
                expected = common.execute_case(solution, interface, case, inputs)
                cases.append((case, inputs, expected))
            write_section(target, common.Section.from_record(section.record()), cases)
    write_sections_file(out, sections)


def _files(root: Path) -> dict[str, Path]:
    return {str(path.relative_to(root)): path for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def _differing(committed: Path, fresh: Path) -> dict[str, str]:
    """Files (``visibility/relative path``) where ``fresh`` cases differ from ``committed``
    ones, with how: any byte of an input or of ``cases.json``, an expected output beyond
    ``AGREEMENT_RTOL``, a file only in one of them."""
    found = {}
    for visibility in VISIBILITIES:
        old, new = _files(committed / visibility), _files(fresh / visibility)
        found.update((f"{visibility}/{name}", "only in one of them")
                     for name in sorted(set(old) ^ set(new)))
        for name in sorted(set(old) & set(new)):
            if "_gt/" not in name:
                if old[name].read_bytes() != new[name].read_bytes():
                    found[f"{visibility}/{name}"] = "inputs differ"
                continue
            with np.load(old[name]) as before, np.load(new[name]) as after:
                if sorted(before.files) != sorted(after.files) or not all(
                        before[key].shape == after[key].shape and np.allclose(
                            before[key], after[key], rtol=AGREEMENT_RTOL, atol=AGREEMENT_ATOL,
                            equal_nan=True) for key in before.files):
                    found[f"{visibility}/{name}"] = "expected outputs differ"
    return found


def disagreements(committed: Path, fresh: Path) -> list[str]:
    """How ``fresh`` cases differ from ``committed`` ones (empty: they agree)."""
    return [f"{name}: {how}" for name, how in _differing(committed, fresh).items()]


def generate(out: Path = DEFAULT_OUT, seed: int = DEFAULT_SEED) -> list[str]:
    """Regenerate the cases into ``out``; returns what changed. Only the files that differ
    from a fresh generation (see ``disagreements``) are written: the others stay as they are,
    to the byte, whatever the last bits of this CPU's ``exp`` and ``log``."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="nn-cases-") as temporary:
        fresh = Path(temporary)
        write_cases(fresh, seed, declared_sections(out))
        if not all((out / visibility).is_dir() for visibility in VISIBILITIES):
            for visibility in VISIBILITIES:
                shutil.rmtree(out / visibility, ignore_errors=True)
                shutil.copytree(fresh / visibility, out / visibility)
            return [f"{visibility}/: new" for visibility in VISIBILITIES]
        differing = _differing(out, fresh)
        for name in differing:
            if (fresh / name).is_file():
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fresh / name, out / name)
            else:
                (out / name).unlink()
                if not any((out / name).parent.iterdir()):  # a section taken out
                    (out / name).parent.rmdir()
    return [f"{name}: {how}" for name, how in differing.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="test case directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    try:
        changed = generate(args.out, args.seed)
    except (ConfigError, GenerationError) as error:
        sys.exit(f"error: {error}")
    print("\n".join(f"changed {what}" for what in changed) if changed else
          f"{args.out}: up to date (a fresh generation agrees within rtol={AGREEMENT_RTOL:g})")


if __name__ == "__main__":
    main()
