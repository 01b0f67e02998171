"""Hints that point at the bug, worked out on the host from the inputs, expected and got.

A wrong output is compared with what the mistakes students make would have
produced: a result off by the batch size, of the opposite sign, transposed,
equal to one of the inputs, entries left unset, a loss over the batch instead of
per sample, softmax rows that do not sum to one, and, for the optimizers,
trajectories recomputed with the usual wrong update rules. Each hint is one
sentence; like everything of a hidden case, hints of hidden cases are never
shown to students.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from reference.common import Case

Trajectory = Callable[[np.ndarray, np.ndarray, dict], np.ndarray]
MISSING_MODULE = re.compile(r"^ModuleNotFoundError: No module named '([\w.]+)'\s*\Z", re.M)


def missing_module_hint(import_error: str, packages: tuple[str, ...]) -> str | None:
    """What to do when solution.py imports something the grading box does not hold."""
    missing = MISSING_MODULE.search(import_error)
    if missing is None:
        return None
    held = ", ".join(["numpy", "the course framework (interface)", *packages])
    return (f"hint: the grading box holds only {held} (imported by name); "
            f"{missing.group(1)!r} is not there: remove that import (plots and progress bars "
            "are not graded)")


def _close(got, want, case: Case) -> bool:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    with np.errstate(all="ignore"):
        return bool(np.allclose(got, want, rtol=case.rtol, atol=case.atol, equal_nan=True))


def _batch_size(inputs: dict) -> int | None:
    for name in ("inputs", "y_pred"):
        if name in inputs:
            return int(inputs[name].shape[0])
    return None


def _same_shape_hints(name: str, got: np.ndarray, want: np.ndarray, case: Case,
                      inputs: dict) -> list[str]:
    hints = []
    if _close(got, -want, case):
        hints.append(f"`{name}` has the opposite sign of the expected values")
    n = _batch_size(inputs)
    if n and n > 1 and _close(got, want * n, case):
        hints.append(f"`{name}` is larger by exactly the batch size ({n}): average over the "
                     "batch (divide by the number of samples)")
    if n and n > 1 and _close(got, want / n, case):
        hints.append(f"`{name}` is smaller by exactly the batch size ({n}): it is not "
                     "averaged here")
    for input_name, value in inputs.items():
        if value.shape == want.shape and _close(got, value, case) and \
                not _close(value, want, case):
            hints.append(f"`{name}` is the same as the input `{input_name}`: it is returned "
                         "unchanged")
    with np.errstate(all="ignore"):
        wrong = ~np.isclose(got, want, rtol=case.rtol, atol=case.atol)
    if wrong.any() and np.all(want[wrong] == 0) and wrong.sum() < want.size:
        hints.append(f"`{name}` is wrong only where it should be exactly 0: entries left unset "
                     "(np.empty, or an assignment that misses some positions?)")
    return hints


def _shape_hints(name: str, got: np.ndarray, want: np.ndarray, case: Case) -> list[str]:
    if got.ndim == 2 and got.shape == want.shape[::-1] and _close(got.T, want, case):
        return [f"`{name}` is transposed: shape {got.shape} instead of {want.shape}"]
    if want.ndim == 1 and got.size == 1:
        for label, value in (("the mean", want.mean()), ("the sum", want.sum())):
            if _close(got.reshape(()), value, case):
                return [f"`{name}` is {label} over the batch; one value per sample is expected "
                        f"(shape {want.shape}): sum over the classes only (axis=1)"]
    return []


def _softmax_hints(got: dict, case: Case) -> list[str]:
    outputs = got.get("outputs")
    if case.params.get("layer") != "Softmax" or not isinstance(outputs, np.ndarray) or \
            outputs.ndim != 2:
        return []
    with np.errstate(all="ignore"):
        sums = outputs.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=1e-6, atol=1e-6):
        return ["the rows of `outputs` do not sum to 1: normalise each row by its own sum "
                "(axis=1, keepdims=True)"]
    return []


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


OPTIMIZER_MISTAKES = {
    "step added": "each step goes the wrong way: the parameter moves by -lr * grad (gradient "
                  "descent subtracts)",
    "no learning rate": "the steps are off by the learning rate: the step is lr * grad",
    "learning rate twice": "the steps are off by the learning rate: it is applied twice",
    "momentum added": "the momentum is added to the inertia instead of multiplying it: "
                      "inertia = momentum * inertia + lr * grad",
    "inertia not kept": "the inertia is not kept between calls: each parameter's updater must "
                        "remember its own inertia",
}


def _optimizer_hints(case: Case, inputs: dict, got: dict) -> list[str]:
    params = case.params
    kwargs = params.get("kwargs", {})
    lr, momentum = kwargs.get("lr", 0.0), kwargs.get("momentum", 0.0)
    hints = []
    for mistake, hint in OPTIMIZER_MISTAKES.items():
        if mistake in ("momentum added", "inertia not kept") and not momentum:
            continue  # without momentum these are the right rule
        matches = []
        for i in range(params["n_parameters"]):
            update, parameter, steps = _sgd(lr, momentum, mistake), inputs[f"parameter_{i}"], []
            for grad in inputs[f"grads_{i}"][:params["steps"]]:
                parameter = update(parameter, grad)
                steps.append(parameter)
            matches.append(_close(got.get(f"parameter_{i}_trajectory"), np.stack(steps), case))
        if all(matches):
            hints.append(hint)
    return hints


def diagnose(case: Case, inputs: dict[str, np.ndarray], expected: dict[str, np.ndarray],
             got: dict) -> list[str]:
    """Hints for a case whose outputs ``got`` differ from ``expected``."""
    hints: list[str] = []
    for name, want in expected.items():
        value = got.get(name)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            continue
        value = value.astype(np.float64)
        hints += _same_shape_hints(name, value, want, case, inputs) if value.shape == want.shape \
            else _shape_hints(name, value, want, case)
    hints += _softmax_hints(got, case)
    if case.op == "optimizer":
        hints += _optimizer_hints(case, inputs, got)
    return list(dict.fromkeys(hints))


def diagnose_exception(case: Case, inputs: dict[str, np.ndarray], error_type: str) -> list[str]:
    """Hints for a case whose code raised."""
    if error_type == "FloatingPointError" and case.params.get("layer") == "Softmax":
        row_maxima = inputs["inputs"].max(axis=1)
        if row_maxima.max() - row_maxima.min() > 700:
            return ["the rows are far apart (their maxima differ by "
                    f"{row_maxima.max() - row_maxima.min():.0f}): a maximum over the whole batch "
                    "makes exp underflow to 0 in the other rows; subtract each row's own maximum "
                    "(axis=1, keepdims=True)"]
    return []
