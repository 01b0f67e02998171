"""Hints that point at the bug, worked out on the host from a case's inputs and expected outputs.

Each mistake students make is a prediction: what the code would have returned with that
mistake (a gradient not averaged, a flipped sign, one maximum for the whole batch...),
recomputed here from the case's inputs. A hint is shown only where it is true:

- only for a quantity that failed;
- only when the mistake's prediction matches what came back, within the case's tolerance,
  and differs from the expected values (so it explains the failure);
- at most one per quantity, the first mistake of ``MISTAKES`` that explains it (the more
  specific come first), so hints never contradict each other.

A failed run (an exception) gets hints from the error numpy raised and the inputs.
Like everything of a hidden case, hints of hidden cases are never shown to students.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference.common import Case

Arrays = dict[str, np.ndarray]
Trajectory = Callable[[np.ndarray, np.ndarray, dict], np.ndarray]
MISSING_MODULE = re.compile(r"^ModuleNotFoundError: No module named '([\w.]+)'\s*\Z", re.M)
EXP_RANGE = 709.0  # exp overflows past it, and a row more than this below the maximum underflows


def missing_module_hint(import_error: str, packages: tuple[str, ...]) -> str | None:
    """What to do when solution.py imports something the grading box does not hold."""
    missing = MISSING_MODULE.search(import_error)
    if missing is None:
        return None
    held = ", ".join(["numpy", "the course framework (interface)", *packages])
    return (f"hint: the grading box holds only {held} (imported by name); "
            f"{missing.group(1)!r} is not there: remove that import (plots and progress bars "
            "are not graded)")


# ------------------------------------------------------------------ matching
def _close(got: np.ndarray, want: np.ndarray, case: Case) -> bool:
    if got.shape != want.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.allclose(got, want, rtol=case.rtol, atol=case.atol, equal_nan=True))


def _explains(got: np.ndarray, predicted: np.ndarray, want: np.ndarray, case: Case) -> bool:
    """The mistake's prediction is what came back and not what was expected (a scalar and an
    array of one value are the one value they hold)."""
    if predicted.size == 1:
        if got.size == 1:
            got = got.reshape(predicted.shape)
        if want.size == 1:
            got, predicted = got.reshape(want.shape) if got.size == 1 else got, \
                predicted.reshape(want.shape)
    return _close(got, predicted, case) and not _close(predicted, want, case)


def _batch_size(inputs: Arrays) -> int | None:
    for name in ("inputs", "y_pred"):
        if name in inputs:
            return int(inputs[name].shape[0])
    return None


def _quiet(compute: Callable[[], np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(compute(), dtype=np.float64)


# ------------------------------------------------------------------ mistakes
Predict = Callable[[Case, Arrays, Arrays], Arrays]  # (case, inputs, expected) -> quantities


@dataclass(frozen=True)
class Mistake:
    """A bug students make: where it applies, what it predicts, and the hint (``{name}``:
    the quantity; ``{n}``: the batch size)."""

    hint: str
    predict: Predict
    layer: str | None = None   # only in cases of this layer (or loss / optimizer) class


def _case_class(case: Case) -> str | None:
    return next((case.params[key] for key in ("layer", "loss", "optimizer")
                 if key in case.params), None)


def _each(transform: Callable[[np.ndarray, Arrays], np.ndarray | None]) -> Predict:
    """A prediction for every expected quantity, from its expected value and the inputs."""
    def predict(case: Case, inputs: Arrays, expected: Arrays) -> Arrays:
        found = {}
        for name, want in expected.items():
            value = transform(want, inputs)
            if value is not None:
                found[name] = value
        return found
    return predict


UNDERFLOWED = 1e-100  # a row's sum of exp below it: with any epsilon in the denominator, 0s


def _softmax(logits: np.ndarray, shift: np.ndarray, by_row: bool = True,
             epsilon: bool = False) -> np.ndarray:
    """Softmax shifted by ``shift``; with an ``epsilon`` in the denominator (any of the sizes
    students add), a row whose exps underflowed comes out as zeros rather than 0/0."""
    exps = _quiet(lambda: np.exp(logits - shift))
    sums = exps.sum(axis=1, keepdims=True) if by_row else exps.sum()
    outputs = _quiet(lambda: exps / sums)
    return np.where(sums < UNDERFLOWED, 0.0, outputs) if epsilon else outputs


def _softmax_outputs(make: Callable[[np.ndarray], np.ndarray]) -> Predict:
    return lambda case, inputs, expected: {"outputs": make(inputs["inputs"])}


def _softmax_backward(make: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Predict:
    return lambda case, inputs, expected: {
        "grad_inputs": _quiet(lambda: make(expected["outputs"], inputs["grad_outputs"]))}


ROW_MAXIMUM = "subtract each row's own maximum before np.exp (axis=1, keepdims=True)"
WHOLE_BATCH_MAXIMUM = ("one maximum for the whole batch: in rows far below it every exp "
                       f"underflows to 0 (rows of 0 or NaN); {ROW_MAXIMUM}")
NO_MAXIMUM = ("no maximum is subtracted: exp overflows to inf for large logits and underflows "
              f"to 0 for very negative ones; {ROW_MAXIMUM}")
ROWS_NOT_NORMALISED = ("the rows of `outputs` do not sum to 1: divide each row by its own sum "
                       "(axis=1, keepdims=True)")

SECTION_MISTAKES = (
    Mistake(WHOLE_BATCH_MAXIMUM, _softmax_outputs(lambda x: _softmax(x, x.max())), "Softmax"),
    Mistake(WHOLE_BATCH_MAXIMUM, _softmax_outputs(lambda x: _softmax(x, x.max(), epsilon=True)),
            "Softmax"),
    Mistake(NO_MAXIMUM, _softmax_outputs(lambda x: _softmax(x, 0.0)), "Softmax"),
    Mistake(NO_MAXIMUM, _softmax_outputs(lambda x: _softmax(x, 0.0, epsilon=True)), "Softmax"),
    Mistake(ROWS_NOT_NORMALISED, _softmax_outputs(
        lambda x: _softmax(x, x.max(axis=1, keepdims=True), by_row=False)), "Softmax"),
    Mistake(ROWS_NOT_NORMALISED, _softmax_outputs(
        lambda x: _quiet(lambda: np.exp(x - x.max(axis=1, keepdims=True)))), "Softmax"),
    Mistake("only the diagonal of the softmax Jacobian is used: dL/dx = s * (g - sum(g * s, "
            "axis=1, keepdims=True)), every output depends on every input",
            _softmax_backward(lambda s, g: s * (1 - s) * g), "Softmax"),
    Mistake("the term sum(g * s) of each row is missing: dL/dx = s * (g - sum(g * s, axis=1, "
            "keepdims=True))", _softmax_backward(lambda s, g: s * g), "Softmax"),
    Mistake("negative inputs give their absolute value: ReLU gives 0 for them "
            "(np.maximum(inputs, 0))",
            lambda case, inputs, expected: {"outputs": np.abs(inputs["inputs"])}, "ReLU"),
    Mistake("`grad_inputs` is the mask (inputs > 0) itself: multiply it by grad_outputs",
            lambda case, inputs, expected: {
                "grad_inputs": (inputs["inputs"] > 0).astype(np.float64)}, "ReLU"),
    Mistake("the mask is taken from grad_outputs: it must come from the forward inputs "
            "(self.forward_inputs > 0)",
            lambda case, inputs, expected: {
                "grad_inputs": inputs["grad_outputs"] * (inputs["grad_outputs"] > 0)}, "ReLU"),
    Mistake("the bias is missing from `outputs`: inputs @ weights + biases",
            lambda case, inputs, expected: {
                "outputs": inputs["inputs"] @ inputs["weights"]}, "Dense"),
    Mistake("`gradient` is -1 / y_pred everywhere: multiply by y_gt (0 for the wrong classes)",
            lambda case, inputs, expected: {
                "gradient": _quiet(lambda: -1.0 / inputs["y_pred"])}, "CategoricalCrossentropy"),
    Mistake("the loss uses log10: the cross-entropy uses the natural logarithm (np.log)",
            lambda case, inputs, expected: {"loss": _quiet(lambda: -np.sum(
                inputs["y_gt"] * np.log10(inputs["y_pred"]), axis=1))},
            "CategoricalCrossentropy"),
)


def _batch_scaled(factor: Callable[[int], float]) -> Predict:
    def predict(case: Case, inputs: Arrays, expected: Arrays) -> Arrays:
        n = _batch_size(inputs)
        if not n or n == 1:
            return {}
        return {name: want * factor(n) for name, want in expected.items()}
    return predict


def _unchanged_inputs(inputs: Arrays) -> tuple[Mistake, ...]:
    """An input returned unchanged: a prediction of every quantity of its shape."""
    return tuple(Mistake(f"`{{name}}` is the same as the input `{input_name}`: it is returned "
                         "unchanged", _each(lambda w, i, v=value: v if v.shape == w.shape
                                            else None))
                 for input_name, value in inputs.items())


GENERIC_MISTAKES = (
    Mistake("`{name}` has the opposite sign of the expected values", _each(lambda w, i: -w)),
    Mistake("`{name}` is larger by exactly the batch size ({n}): average over the batch "
            "(divide by the number of samples)", _batch_scaled(lambda n: n)),
    Mistake("`{name}` is smaller by exactly the batch size ({n}): it is not averaged here",
            _batch_scaled(lambda n: 1 / n)),
    Mistake("`{name}` is transposed: shape {shape} instead of {expected_shape}",
            _each(lambda w, i: w.T if w.ndim == 2 else None)),
    Mistake("`{name}` is the mean over the batch; one value per sample is expected: sum over "
            "the classes only (axis=1)", _each(lambda w, i: np.mean(w) if w.ndim == 1 else None)),
    Mistake("`{name}` is the sum over the batch; one value per sample is expected: sum over "
            "the classes only (axis=1)", _each(lambda w, i: np.sum(w) if w.ndim == 1 else None)),
)


# ------------------------------------------------------------------ optimizers
def _sgd(lr: float, momentum: float, mistake: str) -> Callable:
    """An updater for one parameter, right or with ``mistake``."""
    state = {"inertia": None}

    def update(parameter: np.ndarray, grad: np.ndarray) -> np.ndarray:
        if state["inertia"] is None or mistake == "inertia not kept":
            state["inertia"] = np.zeros_like(parameter)
        inertia = state["inertia"]
        if mistake == "momentum added":
            inertia = momentum + lr * grad
        elif mistake == "no learning rate":
            inertia = momentum * inertia + grad
        else:
            inertia = momentum * inertia + lr * grad
        state["inertia"] = inertia
        step = lr * inertia if mistake == "learning rate twice" else inertia
        return parameter + step if mistake == "step added" else parameter - step

    return update


def _trajectories(mistake: str) -> Predict:
    def predict(case: Case, inputs: Arrays, expected: Arrays) -> Arrays:
        params = case.params
        kwargs = params.get("kwargs", {})
        lr, momentum = kwargs.get("lr", 0.0), kwargs.get("momentum", 0.0)
        found = {}
        for i in range(params["n_parameters"]):
            update, parameter, steps = _sgd(lr, momentum, mistake), inputs[f"parameter_{i}"], []
            for grad in inputs[f"grads_{i}"][:params["steps"]]:
                parameter = update(parameter, grad)
                steps.append(parameter)
            found[f"parameter_{i}_trajectory"] = np.stack(steps)
        return found
    return predict


OPTIMIZER_MISTAKES = tuple(Mistake(hint, _trajectories(mistake), optimizer) for optimizer in (
    "SGD", "SGDMomentum") for mistake, hint in {
    "step added": "each step goes the wrong way: the parameter moves by -lr * grad (gradient "
                  "descent subtracts)",
    "no learning rate": "the steps are off by the learning rate: the step is lr * grad",
    "learning rate twice": "the steps are off by the learning rate: it is applied twice",
    "momentum added": "the momentum is added to the inertia instead of multiplying it: "
                      "inertia = momentum * inertia + lr * grad",
    "inertia not kept": "the inertia is not kept between calls: each parameter's updater must "
                        "remember its own inertia",
}.items() if optimizer == "SGDMomentum" or mistake not in ("momentum added", "inertia not kept"))

MISTAKES = SECTION_MISTAKES + OPTIMIZER_MISTAKES + GENERIC_MISTAKES


# ------------------------------------------------------------------ unset entries
UNSET = ("`{name}` is wrong only where it should be exactly 0: entries left unset (np.empty, "
         "or an assignment that misses some positions?)")


def _left_unset(got: np.ndarray, want: np.ndarray, inputs: Arrays, case: Case) -> bool:
    """Wrong only where 0 is expected, right elsewhere, and the wrong values finite and no
    formula of an input (a leaky or absolute ReLU is a formula; leftover memory is not)."""
    if got.shape != want.shape:
        return False
    with np.errstate(all="ignore"):
        wrong = ~np.isclose(got, want, rtol=case.rtol, atol=case.atol)
        if not wrong.any() or wrong.all() or np.any(want[wrong] != 0) or \
                not np.all(np.isfinite(got[wrong])):  # NaN and inf come of computing
            return False
        for value in inputs.values():
            if value.shape == want.shape and np.all(value[wrong] != 0):
                ratios = got[wrong] / value[wrong]
                if np.allclose(ratios, ratios[0], rtol=1e-9, atol=0.0):
                    return False
    return True


# ------------------------------------------------------------------ the hints
def diagnose(case: Case, inputs: Arrays, expected: Arrays, got: dict,
             failed: set[str]) -> list[str]:
    """One hint at most for each ``failed`` quantity of a case whose outputs ``got`` differ
    from ``expected``: the first mistake that explains it."""
    kind = _case_class(case)
    relevant = [mistake for mistake in MISTAKES + _unchanged_inputs(inputs)
                if mistake.layer in (None, kind)]
    predictions = [(mistake, mistake.predict(case, inputs, expected)) for mistake in relevant]
    n = _batch_size(inputs)
    hints: list[str] = []
    for name in (name for name in expected if name in failed):
        value = got.get(name)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            continue
        value = value.astype(np.float64)
        explained = next((mistake.hint for mistake, predicted in predictions
                          if name in predicted and _explains(value, predicted[name],
                                                             expected[name], case)), None)
        if explained is None and _left_unset(value, expected[name], inputs, case):
            explained = UNSET
        if explained is not None:
            hints.append(explained.format(name=name, n=n, shape=value.shape,
                                          expected_shape=expected[name].shape))
    return list(dict.fromkeys(hints))


NUMPY_ERROR = re.compile(r"^FloatingPointError: (.*)$", re.M)


def diagnose_exception(case: Case, inputs: Arrays, error_type: str, error: str) -> list[str]:
    """Hints for a case whose code raised: what numpy's floating-point error means here (the
    traceback's own hint already says what the error is)."""
    said = NUMPY_ERROR.findall(error)
    if error_type != "FloatingPointError" or case.params.get("layer") != "Softmax" or not said \
            or "invalid value" not in said[-1]:
        return []
    maxima = inputs["inputs"].max(axis=1)
    if maxima.max() > EXP_RANGE:  # with no shift at all, exp would have overflowed first
        return [WHOLE_BATCH_MAXIMUM]
    if maxima.max() - maxima.min() > EXP_RANGE:
        return [f"rows of exp underflow to 0 (0/0): with no maximum, or one maximum for the "
                f"whole batch, rows far below it underflow; {ROW_MAXIMUM}"]
    return []
