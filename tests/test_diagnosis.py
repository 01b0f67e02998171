"""Each hint, with the mutant of the reference solution that produces it."""
from __future__ import annotations

import pytest

from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.report_model import Verdict
from tests.grading_fixtures import solution_with

UNIT = GradingOptions(skip_mnist=True)

MUTANTS = [
    pytest.param("dense", "self.weights_grad = inputs.T @ grad_outputs / batch_size",
                 "self.weights_grad = inputs.T @ grad_outputs",
                 "`weights_grad` is larger by exactly the batch size (4): average over the batch",
                 id="gradient_not_averaged"),
    pytest.param("crossentropy", "return -np.sum(y_gt * np.log(safe_pred), axis=1)",
                 "return np.sum(y_gt * np.log(safe_pred), axis=1)",
                 "`loss` has the opposite sign of the expected values", id="sign_flipped"),
    pytest.param("dense", "self.weights_grad = inputs.T @ grad_outputs / batch_size",
                 "self.weights_grad = grad_outputs.T @ inputs / batch_size",
                 "`weights_grad` is transposed: shape (3, 5) instead of (5, 3)",
                 id="transposed_weights"),
    pytest.param("sgd", "return parameter - self._lr * parameter_grad",
                 "return parameter - parameter_grad",
                 "the steps are off by the learning rate: the step is lr * grad",
                 id="off_by_the_learning_rate"),
    pytest.param("softmax", "return exps / exps.sum(axis=1, keepdims=True)",
                 "return exps / exps.sum()",
                 "the rows of `outputs` do not sum to 1", id="rows_not_normalised"),
    pytest.param("softmax", "exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))",
                 "exps = np.exp(inputs - inputs.max())",
                 "a maximum over the whole batch makes exp underflow to 0 in the other rows",
                 id="maximum_over_the_whole_batch"),
    pytest.param("relu", "return np.maximum(inputs, 0.0)",
                 "scratch = inputs + 1.0\n        del scratch\n"
                 "        out = np.empty_like(inputs)\n"
                 "        np.copyto(out, inputs, where=inputs > 0)\n        return out",
                 "is wrong only where it should be exactly 0: entries left unset (np.empty",
                 id="uninitialised_array"),
    pytest.param("momentum", "updater.inertia = self._momentum * updater.inertia + self._lr * "
                             "parameter_grad",
                 "updater.inertia = self._momentum + self._lr * parameter_grad",
                 "the momentum is added to the inertia instead of multiplying it",
                 id="momentum_added"),
    pytest.param("momentum", "updater.inertia = self._momentum * updater.inertia + self._lr * "
                             "parameter_grad",
                 "updater.inertia = self._lr * parameter_grad",
                 "the inertia is not kept between calls", id="inertia_not_kept"),
    pytest.param("crossentropy", "return -np.sum(y_gt * np.log(safe_pred), axis=1)",
                 "return -np.mean(np.sum(y_gt * np.log(safe_pred), axis=1))",
                 "got a scalar float64", id="loss_over_the_batch"),
    pytest.param("relu", "return grad_outputs * (inputs > 0)", "return grad_outputs",
                 "`grad_inputs` is the same as the input `grad_outputs`: it is returned unchanged",
                 id="gradient_unchanged"),
]


@pytest.mark.parametrize("section, old, new, hint", MUTANTS)
def test_each_mistake_gets_its_hint_in_the_public_message(tmp_path, section, old, new, hint):
    report = grade_submission(solution_with(tmp_path, old, new), UNIT)
    broken = next(s for s in report.sections if s.name == section)
    assert broken.status in (Verdict.wrong_answer, Verdict.exception)
    assert broken.failure_scope == "public", broken.message
    assert hint in broken.message, broken.message
    assert all(s.status == Verdict.passed for s in report.sections[:6] if s.name != section)


def test_a_scalar_is_said_with_the_shape_expected_and_what_it_is(tmp_path):
    report = grade_submission(solution_with(
        tmp_path, "return -np.sum(y_gt * np.log(safe_pred), axis=1)",
        "return -np.mean(np.sum(y_gt * np.log(safe_pred), axis=1))"), UNIT)
    message = report.sections[3].message
    assert "`loss`: expected an array of shape (6,) of floats, got a scalar float64" in message
    assert "hint: `loss` is the mean over the batch; one value per sample is expected" in message
