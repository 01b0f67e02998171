"""Generate ``test_cases/`` by running the reference solution on seeded inputs.

Every section has a list of case builders; a builder draws inputs from a seeded
generator and describes what to call. The expected outputs come from executing
the reference solution through the same ``common.execute_case`` the students'
runner and the grader use.

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
import json
import shutil
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from reference import common
from reference.common import Case, Section

REFERENCE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = REFERENCE_DIR.parent / "test_cases"
DEFAULT_SEED = 20261126
AGREEMENT_RTOL = 1e-10  # grading compares with rtol=1e-5, atol=1e-6: a million times finer,
AGREEMENT_ATOL = 1e-12  # and still wider than the last bits another CPU changes
VISIBILITIES = ("public", "hidden")

Builder = Callable[[np.random.Generator], tuple[Case, dict[str, np.ndarray]]]


def _away_from_zero(values: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """Push values off zero so no verdict hinges on ReLU'(0)."""
    return np.where(np.abs(values) < margin, np.copysign(margin, values) + values, values)


def _layer_case(name, section, description, x, grad, layer, args=(), **extra):
    params = {"layer": layer, "args": list(args)}
    if "weights" in extra:
        params["parameter_grads"] = ["weights_grad", "biases_grad"]
    case = Case(name=name, section=section, op="layer", description=description, params=params)
    return case, {"inputs": x, "grad_outputs": grad, **extra}


def relu_case(name, description, shape, scale=1.0) -> Builder:
    def build(rng):
        x = _away_from_zero(rng.normal(0.0, scale, shape))
        return _layer_case(name, "relu", description, x, rng.normal(size=shape), "ReLU")
    return build


def softmax_case(name, description, n, d, make_logits=None) -> Builder:
    def build(rng):
        x = make_logits(rng) if make_logits else rng.normal(0.0, 2.0, (n, d))
        return _layer_case(name, "softmax", description, x, rng.normal(size=x.shape), "Softmax")
    return build


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


def dense_case(name, description, n, d, c) -> Builder:
    def build(rng):
        return _layer_case(
            name, "dense", description, rng.normal(size=(n, d)), rng.normal(size=(n, c)),
            "Dense", args=(c,),
            weights=rng.normal(0.0, np.sqrt(2.0 / d), (d, c)), biases=rng.normal(size=c))
    return build


def _probabilities(rng, n, d, floor=0.05):
    """Rows of probabilities whose smallest value is at least ``floor``."""
    raw = rng.dirichlet(np.ones(d), size=n)
    return floor + (1.0 - floor * d) * raw


def _one_hot(rng, n, d):
    return np.eye(d)[rng.integers(0, d, n)]


def crossentropy_case(name, description, n, d, make=None, rtol=common.RTOL) -> Builder:
    def build(rng):
        y_gt, y_pred = make(rng) if make else (_one_hot(rng, n, d), _probabilities(rng, n, d, 0.02))
        case = Case(name=name, section="crossentropy", op="loss", description=description,
                    params={"loss": "CategoricalCrossentropy"}, rtol=rtol)
        return case, {"y_gt": y_gt, "y_pred": y_pred}
    return build


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


CONFIDENTLY_WRONG_RTOL = 2e-3  # an added epsilon e moves -1/p by e/p: at most 1e-3 for e <= 1e-7


def _confidently_wrong_probabilities(rng):
    """True classes given 1e-4 .. 5e-4: an epsilon of 1e-3 (added or clipped) changes the loss
    and its gradient by 70% or more; one of 1e-7 or less by 0.1% at most (the case's rtol)."""
    n, d = 5, 4
    y_gt = _one_hot(rng, n, d)
    true_class = _decimals(rng, 1, 6, np.full(n, 4))
    return y_gt, _with_true_class(y_gt, true_class, _probabilities(rng, n, d, 0.05))


def optimizer_case(name, section, description, optimizer, kwargs, shapes, steps) -> Builder:
    def build(rng):
        inputs = {}
        for i, shape in enumerate(shapes):
            inputs[f"parameter_{i}"] = rng.normal(size=shape)
            inputs[f"grads_{i}"] = rng.normal(size=(steps, *shape))
        case = Case(name=name, section=section, op="optimizer", description=description,
                    params={"optimizer": optimizer, "kwargs": kwargs,
                            "n_parameters": len(shapes), "steps": steps})
        return case, inputs
    return build


CASES: dict[str, dict[str, list[Builder]]] = {
    "relu": {
        "public": [relu_case("relu_2d", "2-D batch (4, 5)", (4, 5)),
                   relu_case("relu_batch_of_one", "a batch of one sample (1, 7)", (1, 7))],
        "hidden": [relu_case("relu_4d", "4-D input (3, 2, 4, 5)", (3, 2, 4, 5)),
                   relu_case("relu_3d", "3-D input (2, 6, 3)", (2, 6, 3)),
                   relu_case("relu_large_values", "large values (8, 32)", (8, 32), scale=100.0)],
    },
    "softmax": {
        "public": [softmax_case("softmax_small", "logits (4, 6)", 4, 6),
                   softmax_case("softmax_batch_of_one", "a batch of one sample (1, 10)", 1, 10),
                   softmax_case("softmax_large_logits",
                                "logits near +800 and -700 in different rows (stability: "
                                "subtract the per-row maximum)", 3, 6, _large_logits)],
        "hidden": [softmax_case("softmax_far_apart_rows",
                                "logits near +1000 and -1000 in different rows (stability: "
                                "subtract the per-row maximum)", 5, 8, _far_apart_logits),
                   softmax_case("softmax_peaked", "one logit larger by 600 in four rows "
                                "(probabilities down to 1e-260), two ordinary rows", 6, 10,
                                _peaked_logits),
                   softmax_case("softmax_wide", "logits (16, 50)", 16, 50),
                   softmax_case("softmax_wide_spread_rows", "logits spanning 1800 within four "
                                "rows (stability: the row's maximum, not its minimum), two "
                                "ordinary rows", 6, 6, _wide_spread_rows)],
    },
    "dense": {
        "public": [dense_case("dense_small", "inputs (4, 5), 3 units", 4, 5, 3),
                   dense_case("dense_batch_of_one", "a batch of one sample (1, 8), 4 units",
                              1, 8, 4)],
        "hidden": [dense_case("dense_non_square", "inputs (16, 30), 7 units", 16, 30, 7),
                   dense_case("dense_expanding", "inputs (5, 3), 12 units", 5, 3, 12),
                   dense_case("dense_mnist_sized", "inputs (32, 784), 10 units", 32, 784, 10)],
    },
    "crossentropy": {
        "public": [crossentropy_case("crossentropy_small", "one-hot labels (6, 4)", 6, 4),
                   crossentropy_case("crossentropy_batch_of_one", "a batch of one sample (1, 10)",
                                     1, 10)],
        "hidden": [crossentropy_case("crossentropy_tiny_probabilities",
                                     "wrong classes with probabilities 1e-30 .. 1e-200 beside "
                                     "true classes of 0.3 .. 0.9", 0, 0,
                                     _tiny_wrong_class_probabilities),
                   crossentropy_case("crossentropy_confident",
                                     "true-class probabilities within 1e-9 of one in four rows "
                                     "(their loss is about 1e-9), two ordinary rows",
                                     0, 0, _confident_probabilities),
                   crossentropy_case("crossentropy_mnist_sized", "one-hot labels (32, 10)",
                                     32, 10),
                   crossentropy_case("crossentropy_confidently_wrong",
                                     "true classes given probabilities 1e-4 .. 5e-4: an epsilon "
                                     "of 1e-3 (added or clipped) fails, one of 1e-7 or less "
                                     "passes (rtol 0.002 here)", 0, 0,
                                     _confidently_wrong_probabilities, CONFIDENTLY_WRONG_RTOL)],
    },
    "sgd": {
        "public": [optimizer_case("sgd_one_parameter", "sgd", "lr=0.1, one (3, 4) parameter, "
                                  "10 steps", "SGD", {"lr": 0.1}, [(3, 4)], 10)],
        "hidden": [optimizer_case("sgd_three_parameters", "sgd", "lr=0.05, parameters (5,), "
                                  "(4, 3), (2, 3, 2), 12 steps", "SGD", {"lr": 0.05},
                                  [(5,), (4, 3), (2, 3, 2)], 12),
                   optimizer_case("sgd_large_lr", "sgd", "lr=1.5, parameter (7,), 10 steps",
                                  "SGD", {"lr": 1.5}, [(7,)], 10)],
    },
    "momentum": {
        "public": [optimizer_case("momentum_one_parameter", "momentum", "lr=0.1, momentum=0.9, "
                                  "one (3, 4) parameter, 10 steps", "SGDMomentum",
                                  {"lr": 0.1, "momentum": 0.9}, [(3, 4)], 10)],
        "hidden": [optimizer_case("momentum_three_parameters", "momentum", "lr=0.05, momentum="
                                  "0.8, parameters (5,), (4, 3), (2, 3, 2), 15 steps",
                                  "SGDMomentum", {"lr": 0.05, "momentum": 0.8},
                                  [(5,), (4, 3), (2, 3, 2)], 15),
                   optimizer_case("momentum_default", "momentum", "lr=0.1 and the default "
                                  "momentum (0.0), 10 steps", "SGDMomentum", {"lr": 0.1},
                                  [(6,)], 10),
                   optimizer_case("momentum_high", "momentum", "lr=0.01, momentum=0.99, "
                                  "parameter (2, 5), 20 steps", "SGDMomentum",
                                  {"lr": 0.01, "momentum": 0.99}, [(2, 5)], 20)],
    },
}


def write_section(out: Path, section: Section, cases: list[tuple[Case, dict, dict]]) -> None:
    inputs_dir, expected_dir = common.input_dir(out, section), common.expected_dir(out, section)
    inputs_dir.mkdir(parents=True)
    expected_dir.mkdir(parents=True)
    records = {"section": section.name, "cases": [case.to_json() for case, _, _ in cases]}
    (inputs_dir / common.CASES_FILE).write_text(json.dumps(records, indent=2) + "\n",
                                                encoding="utf-8")
    for case, inputs, expected in cases:
        common.save_npz(inputs_dir / f"{case.name}.npz", inputs)
        common.save_npz(expected_dir / f"{case.name}.npz", expected)


def write_cases(out: Path, seed: int) -> None:
    """Write ``out/public`` and ``out/hidden`` afresh."""
    solution, interface = common.import_solution(REFERENCE_DIR)
    for visibility in VISIBILITIES:
        target = Path(out) / visibility
        for section in common.UNIT_SECTIONS:
            # one stream per (section, visibility), keyed by names: adding a case or a section
            # elsewhere changes nothing here
            rng = np.random.default_rng([seed, zlib.crc32(section.name.encode()),
                                         zlib.crc32(visibility.encode())])
            cases = []
            for build in CASES[section.name][visibility]:
                case, inputs = build(rng)
                expected = common.execute_case(solution, interface, case, inputs)
                cases.append((case, inputs, expected))
            write_section(target, section, cases)


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
        write_cases(fresh, seed)
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
    return [f"{name}: {how}" for name, how in differing.items()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="test case directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    args = parser.parse_args(argv)
    changed = generate(args.out, args.seed)
    print("\n".join(f"changed {what}" for what in changed) if changed else
          f"{args.out}: up to date (a fresh generation agrees within rtol={AGREEMENT_RTOL:g})")


if __name__ == "__main__":
    main()
