"""The reference solution is checked against the math, not against itself.

The expected outputs of the test cases come from ``reference/solution.py``; a bug
there would become the cases' truth. So here, independently of the reference:

1. every backward pass of the reference agrees with central finite differences of
   its own forward pass (and the forward passes with the formulas, in 3.);
2. the optimizers follow trajectories worked out by hand, run through the same
   ``common.execute_case`` the cases use;
3. every committed case (public and hidden, whatever cases are there) holds the
   outputs that formulas written in this file give for its inputs;
4. those formulas produce exactly the quantities the case runner produces and the
   cases store, so no quantity goes unchecked.

The last test shows that these checks catch typical bugs: it breaks a copy of the
reference and recomputes the cases' outputs from it.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from reference import common, generate
from tests.support.solution_imports import isolated_imports

REFERENCE_DIR = generate.REFERENCE_DIR
CASES_DIR = Path(__file__).resolve().parent.parent / "test_cases"
VISIBILITIES = ("public", "hidden")


def import_from(directory: Path):
    """``(solution, interface)`` imported from ``directory`` without leaving them imported."""
    with isolated_imports():
        return common.import_solution(directory)


@pytest.fixture(scope="module")
def reference():
    return import_from(REFERENCE_DIR)


# ======================================================= 1. finite differences
# Central differences in float64 with a step h = 1e-6, compared with rtol=1e-6, atol=1e-8.
# - Truncation: the error of (f(x+h) - f(x-h)) / 2h is h^2/6 |f'''| = 1.7e-13 |f'''|. The
#   third derivatives here are small: Dense is linear (0); ReLU is linear on either side
#   of its kink (0; the inputs stay >= 0.1 >> h from it); softmax's are polynomials in
#   s in [0, 1] (O(1)); the loss's 2y/p^3 <= 1.6e4 with p >= 0.05:
#   at most 3e-9 against gradients y/p of up to 20, a relative 1.5e-10.
# - Rounding: each output carries ~1e-16 of itself; the outputs of the two sides are
#   subtracted entry by entry before they are summed (entries the step does not touch
#   cancel exactly) and divided by the step actually taken ((x+h) - (x-h), exact, so that
#   rounding x+h near a logit of 50 does not count): ~1e-16 / 1e-6 = 1e-10 per O(1) entry,
#   ~1e-9 over a row.
# So the estimate is good to ~1e-9 absolute and ~1e-9 relative (measured on the reference:
# at most 8e-10, 2.4e-3 of the allowance): atol=1e-8 and rtol=1e-6 leave a factor 10 and
# more, and the bugs this must catch (a factor n, a missing term, a transposition, a sign)
# are errors of order one, 1e5 times the tolerance.
STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def numerical_gradient(terms, x: np.ndarray) -> np.ndarray:
    """d sum(terms(x)) / dx by central differences; ``terms`` returns an array (not summed)."""
    x = np.array(x, dtype=np.float64)
    gradient = np.empty_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + STEP
        plus, terms_plus = x[index], terms(x.copy())
        x[index] = original - STEP
        minus, terms_minus = x[index], terms(x.copy())
        x[index] = original
        gradient[index] = np.sum(terms_plus - terms_minus) / (plus - minus)
    return gradient


def assert_gradient(what: str, analytic, numerical: np.ndarray) -> None:
    assert isinstance(analytic, np.ndarray), f"{what}: not an array but {type(analytic).__name__}"
    assert analytic.shape == numerical.shape, (
        f"{what}: shape {analytic.shape}, finite differences give {numerical.shape}")
    error = np.abs(analytic - numerical)
    allowed = FD_ATOL + FD_RTOL * np.abs(numerical)
    worst = np.unravel_index(np.argmax(error / allowed), error.shape)
    agrees = bool(np.all(error <= allowed))
    assert agrees, (
        f"{what}: differs from finite differences (rtol={FD_RTOL:g}, atol={FD_ATOL:g}) in "
        f"{int(np.sum(error > allowed))} of {error.size} entries; at {tuple(map(int, worst))}: "
        f"backward {float(analytic[worst])!r}, finite differences {float(numerical[worst])!r}")


def build_layer(solution, interface, name, x, args=(), **parameters):
    """A layer built as ``common._run_layer`` builds it: input_shape, build, parameters set."""
    layer = getattr(solution, name)(*args, input_shape=x.shape[1:])
    layer.build(common.stand_in_optimizer(interface))
    for parameter, value in parameters.items():
        setattr(layer, parameter, value.copy())
    return layer


def backward_of(layer, x: np.ndarray, grad_outputs: np.ndarray) -> np.ndarray:
    layer(x.copy())  # through __call__, as the runner does: forward_inputs/outputs are stored
    return layer.backward(grad_outputs.copy())


def _away_from_zero(values: np.ndarray, margin: float = 0.1) -> np.ndarray:
    return np.where(np.abs(values) < margin, np.copysign(margin, values) + values, values)


def check_relu(solution, interface) -> None:
    rng = np.random.default_rng(1)
    for shape in [(4, 5), (3, 2, 4)]:
        x = _away_from_zero(rng.normal(size=shape))  # the kink at 0 is never crossed
        g = rng.normal(size=shape)  # L = sum(G * relu(x)): every entry of G^T J is checked
        layer = build_layer(solution, interface, "ReLU", x)
        numerical = numerical_gradient(lambda z: g * layer.forward(z), x)
        assert_gradient(f"ReLU grad_inputs {shape}", backward_of(layer, x, g), numerical)


def _softmax_logits(kind: str) -> np.ndarray:
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 2.0, (4, 6))
    if kind == "large":  # rows near +50 and -50 and one spanning [-50, 50]
        x[0] += 50.0
        x[1] -= 50.0
        x[2] = [50.0, -50.0, 49.5, -49.0, 0.0, 48.0]
    return x


def check_softmax(solution, interface, kind: str = "ordinary") -> None:
    x = _softmax_logits(kind)
    g = np.random.default_rng(3).normal(size=x.shape)
    layer = build_layer(solution, interface, "Softmax", x)
    numerical = numerical_gradient(lambda z: g * layer.forward(z), x)
    assert_gradient(f"Softmax grad_inputs ({kind} logits)", backward_of(layer, x, g), numerical)


def _dense_setup(solution, interface):
    # n, d, c all different, so that a transposition or a factor n cannot go unnoticed
    n, d, c = 5, 4, 3
    rng = np.random.default_rng(4)
    x, g = rng.normal(size=(n, d)), rng.normal(size=(n, c))
    weights, biases = rng.normal(size=(d, c)), rng.normal(size=c)
    layer = build_layer(solution, interface, "Dense", x, args=(c,), weights=weights,
                        biases=biases)
    return layer, x, g, weights, biases


def check_dense_inputs(solution, interface) -> None:
    # The course's convention (COURSE_API.md, "Batch averaging lives in Dense.backward"):
    # grad_inputs = G W^T is the gradient of L = sum(G * outputs), NOT averaged over the batch
    # (each sample's input gradient is that sample's own).
    layer, x, g, _, _ = _dense_setup(solution, interface)
    numerical = numerical_gradient(lambda z: g * layer.forward(z), x)
    assert_gradient("Dense grad_inputs (of sum(G * outputs))", backward_of(layer, x, g),
                    numerical)


def check_dense_parameters(solution, interface) -> None:
    # The course's convention: weights_grad = X^T G / n and biases_grad = mean(G) over the
    # batch, i.e. the gradients of the batch MEAN (1/n) sum(G * outputs), unlike grad_inputs.
    layer, x, g, weights, biases = _dense_setup(solution, interface)
    n = x.shape[0]

    def with_weights(w):
        layer.weights = w
        return g * layer.forward(x) / n

    def with_biases(b):
        layer.biases = b
        return g * layer.forward(x) / n

    numerical_weights = numerical_gradient(with_weights, weights)
    layer.weights = weights.copy()
    numerical_biases = numerical_gradient(with_biases, biases)
    layer.biases = biases.copy()
    backward_of(layer, x, g)
    assert_gradient("Dense weights_grad (of the batch mean of sum(G * outputs))",
                    layer.weights_grad, numerical_weights)
    assert_gradient("Dense biases_grad (of the batch mean of sum(G * outputs))",
                    layer.biases_grad, numerical_biases)


def check_crossentropy(solution, interface) -> None:
    # gradient(y, p)[i] is the gradient of sample i's own loss with respect to p[i], not
    # divided by n: with L = sum_i G_i loss_i(p), dL/dp[i, j] = G_i gradient[i, j].
    rng = np.random.default_rng(5)
    n, d = 5, 4
    y_gt = rng.dirichlet(np.ones(d), size=n)  # soft labels: every entry of the gradient counts
    y_pred = 0.05 + (1.0 - 0.05 * d) * rng.dirichlet(np.ones(d), size=n)  # p >= 0.05
    g = rng.normal(size=n)
    loss = solution.CategoricalCrossentropy()
    numerical = numerical_gradient(lambda p: g * loss(y_gt.copy(), p), y_pred)
    analytic = loss.gradient(y_gt.copy(), y_pred.copy())
    assert isinstance(analytic, np.ndarray), f"gradient: a {type(analytic).__name__}"
    assert_gradient("CategoricalCrossentropy gradient (per sample, not divided by n)",
                    g[:, None] * analytic, numerical)


def test_relu_backward_matches_finite_differences(reference):
    check_relu(*reference)


@pytest.mark.parametrize("kind", ["ordinary", "large"])
def test_softmax_backward_matches_finite_differences(reference, kind):
    check_softmax(*reference, kind)


def test_dense_input_gradient_matches_finite_differences_unaveraged(reference):
    check_dense_inputs(*reference)


def test_dense_parameter_gradients_match_finite_differences_of_the_batch_mean(reference):
    check_dense_parameters(*reference)


def test_crossentropy_gradient_matches_finite_differences_per_sample(reference):
    check_crossentropy(*reference)


# ================================================ 2. optimizers worked by hand
# P0 = [1, 2] with gradients [1, 2], [3, -1], [0.5, 0.5]; and a second parameter Q0 = [0]
# with gradients [1], [1], [1] (its own inertia); lr = 0.1. I <- momentum I + lr grad,
# P <- P - I, I starting at 0 (SGD: P <- P - lr grad).
#   SGD:               P1 = [1 - 0.1, 2 - 0.2]    = [0.9, 1.8]
#                      P2 = [0.9 - 0.3, 1.8 + 0.1] = [0.6, 1.9]
#                      P3 = [0.6 - 0.05, 1.9 - 0.05] = [0.55, 1.85]
#                      Q: -0.1, -0.2, -0.3
#   momentum = 0.9:    I1 = [0.1, 0.2]                              P1 = [0.9, 1.8]
#                      I2 = [0.09 + 0.3, 0.18 - 0.1] = [0.39, 0.08]   P2 = [0.51, 1.72]
#                      I3 = [0.351 + 0.05, 0.072 + 0.05] = [0.401, 0.122]
#                                                                   P3 = [0.109, 1.598]
#                      Q: I = 0.1, 0.19, 0.271; Q = -0.1, -0.29, -0.561
#   default momentum (0.0): I = lr grad each step, the SGD trajectory.
HAND_GRADS = {"0": [[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], "1": [[1.0], [1.0], [1.0]]}
HAND_START = {"0": [1.0, 2.0], "1": [0.0]}
SGD_TRAJECTORY = {"0": [[0.9, 1.8], [0.6, 1.9], [0.55, 1.85]], "1": [[-0.1], [-0.2], [-0.3]]}
MOMENTUM_TRAJECTORY = {"0": [[0.9, 1.8], [0.51, 1.72], [0.109, 1.598]],
                       "1": [[-0.1], [-0.29], [-0.561]]}
HAND_RUNS = {
    "sgd": ("SGD", {"lr": 0.1}, SGD_TRAJECTORY),
    "momentum": ("SGDMomentum", {"lr": 0.1, "momentum": 0.9}, MOMENTUM_TRAJECTORY),
    "momentum_default": ("SGDMomentum", {"lr": 0.1}, SGD_TRAJECTORY),
}


def check_hand_trajectory(solution, interface, run: str) -> None:
    optimizer, kwargs, trajectory = HAND_RUNS[run]
    case = common.Case(name=f"by_hand_{run}", section="sgd" if optimizer == "SGD" else "momentum",
                       op="optimizer", description="worked by hand",
                       params={"optimizer": optimizer, "kwargs": kwargs,
                               "n_parameters": len(HAND_START), "steps": 3})
    inputs = {}
    for i in HAND_START:
        inputs[f"parameter_{i}"] = np.array(HAND_START[i])
        inputs[f"grads_{i}"] = np.array(HAND_GRADS[i])
    outputs = common.execute_case(solution, interface, case, inputs)
    assert sorted(outputs) == sorted(f"parameter_{i}_trajectory" for i in HAND_START)
    for i, expected in trajectory.items():
        actual = outputs[f"parameter_{i}_trajectory"]
        # the hand values are decimals; float64 steps from 0.1, 0.9 differ by ~1e-16
        np.testing.assert_allclose(actual, np.array(expected), rtol=1e-12, atol=1e-12,
                                   err_msg=f"{optimizer}({kwargs}), parameter {i}")


@pytest.mark.parametrize("run", sorted(HAND_RUNS))
def test_optimizer_follows_the_trajectory_worked_by_hand(reference, run):
    check_hand_trajectory(*reference, run)


# ====================================== 3. the committed cases hold the math
# The formulas below are written from the math, not taken from the reference. They are
# compared with the stored expected outputs within rtol=1e-9, atol=1e-12: both sides compute
# the same exact quantities in float64, in other orders (softmax by log-sum-exp here, by
# exp / sum in the reference), so they differ by rounding alone: measured, at most 4e-12
# relative (softmax backward on rows near +-1000, where g - <g, s> cancels), 4e-3 of the
# allowance, so another CPU's last bits of exp and log cannot make this test flaky. It is
# 1e4 times tighter than the grading's rtol=1e-5 on purpose: students are
# judged against these values, so an error in them (an epsilon of 1e-6 in a log, a momentum
# or a batch size off by a little) would eat into every student's tolerance or decide
# verdicts; here the truth must be the math up to rounding, not merely within the grading's
# reach of it.
MATH_RTOL = 1e-9
MATH_ATOL = 1e-12


def _layer_math(case, inputs) -> dict:
    layer = case.params["layer"]
    x, g = inputs["inputs"], inputs["grad_outputs"]
    if layer == "ReLU":
        return {"outputs": np.maximum(x, 0.0), "grad_inputs": g * (x > 0)}
    if layer == "Softmax":
        # log-sum-exp per row: log s = x - (m + log sum exp(x - m)), m the row's maximum
        m = np.max(x, axis=1, keepdims=True)
        log_s = x - (m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)))
        s = np.exp(log_s)
        # ds_i = s_i (dx_i - sum_j s_j dx_j): the Jacobian-vector product s * (g - <g, s>)
        return {"outputs": s, "grad_inputs": s * (g - np.sum(g * s, axis=1, keepdims=True))}
    if layer == "Dense":
        weights, biases = inputs["weights"], inputs["biases"]
        n = x.shape[0]
        # every Dense case must check all four (the course's convention: parameter gradients
        # averaged over the batch, the input gradient not)
        return {"outputs": x @ weights + biases, "grad_inputs": g @ weights.T,
                "weights_grad": x.T @ g / n, "biases_grad": np.mean(g, axis=0)}
    raise AssertionError(f"no formula in this test for the layer {layer!r}: add one")


def _loss_math(case, inputs) -> dict:
    if case.params["loss"] != "CategoricalCrossentropy":
        raise AssertionError(f"no formula in this test for the loss {case.params['loss']!r}")
    y, p = inputs["y_gt"], inputs["y_pred"]
    assert not np.any((p <= 0) & (y != 0)), (
        "a probability of 0 (or less) where the label is not: the loss is infinite, and the "
        "expected output would be the reference's clipping convention, not the math")
    # 0 log 0 = 0: where y = 0 the term is 0 whatever p is (p = 0 included)
    safe = np.where(y == 0, 1.0, p)
    return {"loss": -np.sum(y * np.log(safe), axis=1), "gradient": -y / safe}


def _optimizer_math(case, inputs) -> dict:
    kwargs = dict(case.params["kwargs"])
    name = case.params["optimizer"]
    if name == "SGD":
        lr, momentum = kwargs.pop("lr"), 0.0  # SGD is momentum 0
    elif name == "SGDMomentum":
        lr, momentum = kwargs.pop("lr"), kwargs.pop("momentum", 0.0)  # the course's default
    else:
        raise AssertionError(f"no formula in this test for the optimizer {name!r}")
    assert not kwargs, f"{name}: arguments this test does not know: {sorted(kwargs)}"
    outputs = {}
    for i in range(case.params["n_parameters"]):
        parameter = inputs[f"parameter_{i}"].astype(np.float64)
        inertia = np.zeros_like(parameter)
        trajectory = []
        for step in range(case.params["steps"]):
            inertia = momentum * inertia + lr * inputs[f"grads_{i}"][step]
            parameter = parameter - inertia
            trajectory.append(parameter)
        outputs[f"parameter_{i}_trajectory"] = np.stack(trajectory)
    return outputs


MATH = {"layer": _layer_math, "loss": _loss_math, "optimizer": _optimizer_math}


def outputs_by_the_math(case, inputs) -> dict:
    assert case.op in MATH, f"no formulas in this test for the op {case.op!r}"
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        return MATH[case.op](case, inputs)


def quantity_problems(computed: dict, expected: dict) -> list[str]:
    """Each quantity compared; the names must be the same on both sides (none skipped)."""
    if sorted(computed) != sorted(expected):
        return [f"quantities differ: the case stores {sorted(expected)}, the math gives "
                f"{sorted(computed)}"]
    problems = []
    for name in sorted(expected):
        want, got = np.asarray(expected[name]), np.asarray(computed[name])
        if want.dtype.kind != "f":
            problems.append(f"`{name}`: stored as {want.dtype}, not floats")
        elif want.shape != got.shape:
            problems.append(f"`{name}`: stored shape {want.shape}, the math gives {got.shape}")
        elif not np.allclose(want, got, rtol=MATH_RTOL, atol=MATH_ATOL):
            with np.errstate(all="ignore"):
                error = np.abs(want - got)
                excess = error / (MATH_ATOL + MATH_RTOL * np.abs(got))
            worst = np.unravel_index(np.argmax(np.where(np.isnan(excess), np.inf, excess)),
                                     want.shape)
            count = int(np.sum(~np.isclose(want, got, rtol=MATH_RTOL, atol=MATH_ATOL)))
            problems.append(f"`{name}`: {count} of {want.size} values differ from the math; at "
                            f"{tuple(map(int, worst))}: stored {float(want[worst])!r}, "
                            f"math {float(got[worst])!r}")
    return problems


def stored_cases(visibility: str, section) -> list:
    cases = common.load_cases(CASES_DIR / visibility, section)
    assert cases, f"{visibility}: no cases for the section {section.name}"
    return cases


def math_disagreements(visibility: str, section, expected_of=None) -> list[str]:
    """Every case of a section against the math; ``expected_of(case, inputs)`` gives the
    outputs to judge (default: the committed ones)."""
    found = []
    for case in stored_cases(visibility, section):
        inputs = common.load_inputs(CASES_DIR / visibility, section, case)
        expected = (expected_of(case, inputs) if expected_of else
                    common.load_expected(CASES_DIR / visibility, section, case))
        try:
            computed = outputs_by_the_math(case, inputs)
        except (FloatingPointError, AssertionError) as error:  # say which case
            found.append(f"{visibility}/{case.name}: {type(error).__name__}: {error}")
            continue
        found += [f"{visibility}/{case.name}: {problem}"
                  for problem in quantity_problems(computed, expected)]
    return found


SECTION_PARAMS = [pytest.param(visibility, section, id=f"{visibility}-{section.name}")
                  for visibility in VISIBILITIES for section in common.UNIT_SECTIONS]


@pytest.mark.parametrize("visibility, section", SECTION_PARAMS)
def test_committed_expected_outputs_are_the_math(visibility, section):
    problems = math_disagreements(visibility, section)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# ============================ 4. every quantity of every case is recomputed
@pytest.mark.parametrize("visibility, section", SECTION_PARAMS)
def test_the_math_gives_every_quantity_the_runner_gives_and_the_cases_store(
        reference, visibility, section):
    for case in stored_cases(visibility, section):
        inputs = common.load_inputs(CASES_DIR / visibility, section, case)
        runner = sorted(common.execute_case(*reference, case, inputs))
        stored = sorted(common.load_expected(CASES_DIR / visibility, section, case))
        try:
            math = sorted(outputs_by_the_math(case, inputs))
        except (FloatingPointError, AssertionError) as error:
            pytest.fail(f"{visibility}/{case.name}: {type(error).__name__}: {error}",
                        pytrace=False)
        assert runner == stored == math, (
            f"{visibility}/{case.name}: the runner gives {runner}, the case stores {stored}, "
            f"this test's formulas give {math}")


# ==================================== the checks catch a broken reference
# Each: a line of the reference, what it becomes, and the checks that must then fail
# ("cases" = section: the cases as the broken copy would have generated them, against the
# math). ``relu_derivative_one_at_zero`` is an accepted convention: nothing may fail.
BROKEN = {
    "dense_weights_grad_not_divided_by_batch_size": (
        "self.weights_grad = inputs.T @ grad_outputs / batch_size",
        "self.weights_grad = inputs.T @ grad_outputs", ["dense_parameters", "cases:dense"]),
    "dense_weights_grad_transposed": (
        "self.weights_grad = inputs.T @ grad_outputs / batch_size",
        "self.weights_grad = grad_outputs.T @ inputs / batch_size",
        ["dense_parameters", "cases:dense"]),
    "dense_biases_grad_summed": (
        "self.biases_grad = grad_outputs.mean(axis=0)",
        "self.biases_grad = grad_outputs.sum(axis=0)", ["dense_parameters", "cases:dense"]),
    "dense_grad_inputs_averaged": (
        "return grad_outputs @ self.weights.T",
        "return grad_outputs @ self.weights.T / batch_size", ["dense_inputs", "cases:dense"]),
    "softmax_backward_without_the_sum_term": (
        "return outputs * (grad_outputs - weighted)", "return outputs * grad_outputs",
        ["softmax_ordinary", "softmax_large", "cases:softmax"]),
    "relu_backward_ignores_the_mask": (
        "return grad_outputs * (inputs > 0)", "return grad_outputs",
        ["relu", "cases:relu"]),
    "crossentropy_gradient_divided_by_batch_size": (
        "return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny)",
        "return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny) / y_gt.shape[0]",
        ["crossentropy", "cases:crossentropy"]),
    "crossentropy_loss_mean_over_classes": (
        "return -np.sum(y_gt * np.log(safe_pred), axis=1)",
        "return -np.mean(y_gt * np.log(safe_pred), axis=1)",
        ["crossentropy", "cases:crossentropy"]),
    "sgd_adds_the_step": (
        "return parameter - self._lr * parameter_grad",
        "return parameter + self._lr * parameter_grad", ["hand_sgd", "cases:sgd"]),
    "momentum_added_instead_of_multiplied": (
        "updater.inertia = self._momentum * updater.inertia",
        "updater.inertia = self._momentum + updater.inertia",
        ["hand_momentum", "hand_momentum_default", "cases:momentum"]),
    "momentum_inertia_not_kept": (
        "updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad\n"
        "            return parameter - updater.inertia",
        "return parameter - (self._momentum * updater.inertia + self._lr * parameter_grad)",
        ["hand_momentum", "cases:momentum"]),
    "relu_derivative_one_at_zero": (
        "return grad_outputs * (inputs > 0)", "return grad_outputs * (inputs >= 0)", []),
}
CHECKS = {
    "relu": check_relu,
    "softmax_ordinary": lambda s, i: check_softmax(s, i, "ordinary"),
    "softmax_large": lambda s, i: check_softmax(s, i, "large"),
    "dense_inputs": check_dense_inputs,
    "dense_parameters": check_dense_parameters,
    "crossentropy": check_crossentropy,
    **{f"hand_{run}": (lambda s, i, run=run: check_hand_trajectory(s, i, run))
       for run in HAND_RUNS},
    **{f"cases:{section.name}": None for section in common.UNIT_SECTIONS},
}


def _check_fails(name: str, solution, interface) -> bool:
    if name.startswith("cases:"):
        section = common.SECTIONS_BY_NAME[name.split(":", 1)[1]]

        def from_broken(case, inputs):
            return common.execute_case(solution, interface, case, inputs)

        return any(math_disagreements(visibility, section, from_broken)
                   for visibility in VISIBILITIES)
    try:
        CHECKS[name](solution, interface)
    except AssertionError:
        return True
    return False


@pytest.mark.parametrize("bug", sorted(BROKEN))
def test_the_checks_catch_a_broken_reference(tmp_path, bug):
    old, new, must_fail = BROKEN[bug]
    source = (REFERENCE_DIR / "solution.py").read_text(encoding="utf-8")
    assert source.count(old) == 1, f"the line to break is not (once) in the reference: {old!r}"
    shutil.copyfile(REFERENCE_DIR / "interface.py", tmp_path / "interface.py")
    (tmp_path / "solution.py").write_text(source.replace(old, new), encoding="utf-8")
    solution, interface = import_from(tmp_path)
    failing = sorted(name for name in CHECKS if _check_fails(name, solution, interface))
    assert failing == sorted(must_fail)
