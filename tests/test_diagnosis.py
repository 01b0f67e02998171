"""Each hint, with the mistake that produces it; no other hint beside it; none on correct values."""
from __future__ import annotations

import numpy as np
import pytest

from grader.options import GradingOptions
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import grade_submission
from grader.reports.model import GradingReport, Verdict
from grader.sections.diagnosis import diagnose
from reference import common
from tests.grading_fixtures import solution_with

UNIT = GradingOptions(skip_mnist=True)
SOFTMAX_FORWARD = "exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))"
SOFTMAX_NORMALISED = "return exps / exps.sum(axis=1, keepdims=True)"
LOSS = "return -np.sum(y_gt * np.log(safe_pred), axis=1)"
LOSS_GRADIENT = "return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny)"
NUMPY_SAYS = "hint: numpy raised a floating-point error: "
MOMENTUM = "updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad"

# (section, reference text, the mistake, a fragment every hint of the report must hold)
MISTAKES = [
    pytest.param("dense", "self.weights_grad = inputs.T @ grad_outputs / batch_size",
                 "self.weights_grad = inputs.T @ grad_outputs",
                 "`weights_grad` is larger by exactly the batch size", id="gradient_not_averaged"),
    pytest.param("dense", "return grad_outputs @ self.weights.T",
                 "return grad_outputs @ self.weights.T / batch_size",
                 "`grad_inputs` is smaller by exactly the batch size", id="input_gradient_averaged"),
    pytest.param("crossentropy", LOSS, "return np.sum(y_gt * np.log(safe_pred), axis=1)",
                 "`loss` has the opposite sign of the expected values", id="sign_flipped"),
    pytest.param("dense", "self.weights_grad = inputs.T @ grad_outputs / batch_size",
                 "self.weights_grad = grad_outputs.T @ inputs / batch_size",
                 "`weights_grad` is transposed: shape (", id="transposed_weights"),
    pytest.param("dense", "return inputs @ self.weights + self.biases",
                 "return inputs @ self.weights", "the bias is missing", id="bias_missing"),
    pytest.param("sgd", "return parameter - self._lr * parameter_grad",
                 "return parameter - parameter_grad",
                 "the steps are off by the learning rate: the step is lr * grad",
                 id="off_by_the_learning_rate"),
    pytest.param("sgd", "return parameter - self._lr * parameter_grad",
                 "return parameter + self._lr * parameter_grad",
                 "each step goes the wrong way", id="step_added"),
    pytest.param("softmax", SOFTMAX_NORMALISED, "return exps / exps.sum()",
                 "the rows of `outputs` do not sum to 1", id="rows_normalised_by_the_batch"),
    pytest.param("softmax", SOFTMAX_FORWARD, "exps = np.exp(inputs - inputs.max())",
                 "one maximum for the whole batch", id="maximum_over_the_whole_batch"),
    pytest.param("softmax", SOFTMAX_FORWARD + "\n        " + SOFTMAX_NORMALISED,
                 "exps = np.exp(inputs - inputs.max())\n"
                 "        return exps / (exps.sum(axis=1, keepdims=True) + 1e-8)",
                 "one maximum for the whole batch", id="maximum_over_the_whole_batch_plus_eps"),
    pytest.param("softmax", SOFTMAX_FORWARD, "exps = np.exp(inputs)",
                 "np.exp overflowed to inf", id="no_maximum"),
    pytest.param("softmax", SOFTMAX_FORWARD,
                 "with np.errstate(all='ignore'):\n            exps = np.exp(inputs)\n"
                 "            exps = exps / exps.sum(axis=1, keepdims=True)\n"
                 "        return exps",
                 "no maximum is subtracted", id="no_maximum_errors_ignored"),
    pytest.param("softmax", "return outputs * (grad_outputs - weighted)",
                 "return outputs * (1 - outputs) * grad_outputs",
                 "only the diagonal of the softmax Jacobian", id="jacobian_diagonal_only"),
    pytest.param("softmax", "return outputs * (grad_outputs - weighted)",
                 "return outputs * grad_outputs", "the term sum(g * s) of each row is missing",
                 id="jacobian_sum_term_missing"),
    pytest.param("relu", "return np.maximum(inputs, 0.0)",
                 "scratch = inputs + 1.0\n        del scratch\n"
                 "        out = np.empty_like(inputs)\n"
                 "        np.copyto(out, inputs, where=inputs > 0)\n        return out",
                 "is wrong only where it should be exactly 0: entries left unset (np.empty",
                 id="uninitialised_array"),
    pytest.param("relu", "return np.maximum(inputs, 0.0)", "return np.abs(inputs)",
                 "negative inputs give their absolute value", id="absolute_value"),
    pytest.param("relu", "return grad_outputs * (inputs > 0)",
                 "return (inputs > 0).astype(float)", "is the mask (inputs > 0) itself",
                 id="mask_not_multiplied"),
    pytest.param("relu", "return grad_outputs * (inputs > 0)",
                 "return grad_outputs * (grad_outputs > 0)", "the mask is taken from grad_outputs",
                 id="mask_from_the_gradient"),
    pytest.param("relu", "return grad_outputs * (inputs > 0)", "return grad_outputs",
                 "`grad_inputs` is the same as the input `grad_outputs`: it is returned unchanged",
                 id="gradient_unchanged"),
    pytest.param("momentum", MOMENTUM, "updater.inertia = self._momentum + self._lr * parameter_grad",
                 "the momentum is added to the inertia instead of multiplying it",
                 id="momentum_added"),
    pytest.param("momentum", MOMENTUM, "updater.inertia = self._lr * parameter_grad",
                 "the inertia is not kept between calls", id="inertia_not_kept"),
    pytest.param("crossentropy", LOSS, "return -np.mean(np.sum(y_gt * np.log(safe_pred), axis=1))",
                 "`loss` is the mean over the batch", id="loss_mean_over_the_batch"),
    pytest.param("crossentropy", LOSS, "return -np.sum(y_gt * np.log(safe_pred))",
                 "`loss` is the sum over the batch", id="loss_sum_over_the_batch"),
    pytest.param("crossentropy", LOSS, "return -np.sum(y_gt * np.log10(safe_pred), axis=1)",
                 "the loss uses log10", id="log10"),
    pytest.param("crossentropy", LOSS_GRADIENT,
                 "return -1 / np.maximum(y_pred, np.finfo(np.float64).tiny)",
                 "`gradient` is -1 / y_pred everywhere", id="gradient_without_the_labels"),
]


def hint_lines(report: GradingReport) -> list[str]:
    """Every hint in the report, of public and hidden cases."""
    return [line for section in report.sections for case in section.cases
            for line in case.message.splitlines() if line.startswith("hint: ")]


@pytest.mark.parametrize("section, old, new, hint", MISTAKES)
def test_each_mistake_gets_its_hint_and_no_other(tmp_path, section, old, new, hint):
    report = grade_submission(solution_with(tmp_path, old, new), UNIT)
    broken = next(s for s in report.sections if s.name == section)
    assert broken.verdict in (Verdict.wrong_answer, Verdict.exception)
    assert broken.failure_scope == "public", broken.message
    assert hint in broken.message, broken.message
    lines = hint_lines(report)  # besides what numpy's error means, only this mistake's hint
    assert all(hint in line or line.startswith(NUMPY_SAYS) for line in lines), lines
    assert all(s.verdict == Verdict.passed for s in report.sections[:6] if s.name != section)


def test_a_scalar_is_said_with_the_shape_expected_and_what_it_is(tmp_path):
    report = grade_submission(solution_with(
        tmp_path, LOSS, "return -np.mean(np.sum(y_gt * np.log(safe_pred), axis=1))"), UNIT)
    message = report.sections[3].message
    assert "`loss`: expected an array of shape (6,) of floats, got a scalar float64" in message
    assert "hint: `loss` is the mean over the batch; one value per sample is expected" in message


def test_placeholders_get_no_hint_on_what_passed_and_none_that_contradict(tmp_path):
    """np.empty placeholders: zeros or leftovers; the near-zero losses once drew three
    contradictory hints (opposite sign, larger and smaller by the batch size)."""
    placeholders = solution_with(tmp_path, LOSS, "return np.zeros(y_gt.shape[0])")
    report = grade_submission(placeholders, UNIT)
    lines = hint_lines(report)
    assert not any("larger by exactly" in line or "smaller by exactly" in line or
                   "opposite sign" in line for line in lines), lines
    loss = next(s for s in report.sections if s.name == "crossentropy")
    failed = {case.name for case in loss.cases if case.verdict != Verdict.passed}
    assert {"crossentropy_tiny_probabilities", "crossentropy_confident"} <= failed


def test_relative_errors_are_not_printed_against_an_expected_zero():
    expected = np.array([0.0, 0.0, 2.0])
    problem = common.compare_quantity("outputs", np.array([0.5, 0.0, 2.5]), expected, 1e-5, 1e-6)
    assert "max rel error 0.25" in problem and "(1 of them where 0 is expected)" in problem
    only_zeros = common.compare_quantity("outputs", np.array([0.5, 0.0, 2.0]), expected, 1e-5,
                                         1e-6)
    assert "rel error" not in only_zeros and "all of them where 0 is expected" in only_zeros
    assert "e+30" not in problem + only_zeros


def _all_cases():
    for visibility in ("public", "hidden"):
        cases_dir = DEFAULT_CASES_DIR / visibility
        for section in common.UNIT_SECTIONS:
            for case in common.load_cases(cases_dir, section):
                yield (case, common.load_inputs(cases_dir, section, case),
                       common.load_expected(cases_dir, section, case))


def test_no_hint_fires_on_the_expected_values_of_any_case():
    for case, inputs, expected in _all_cases():
        assert diagnose(case, inputs, expected, dict(expected), set(expected)) == [], case.name


def test_at_most_one_hint_per_failed_quantity_and_none_for_quantities_that_passed():
    for case, inputs, expected in _all_cases():
        got = {name: np.zeros_like(value) for name, value in expected.items()}
        failed = {name for name, value in expected.items()
                  if not np.allclose(0.0, value, rtol=case.rtol, atol=case.atol)}
        hints = diagnose(case, inputs, expected, got, failed)
        assert len(hints) <= len(failed), (case.name, hints)
        assert not any(f"`{name}`" in hint for hint in hints for name in set(expected) - failed)
