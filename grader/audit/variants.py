"""Correct solutions written other accepted ways: the cases must pass every one of them.

Each variant is the reference with one or more of its solution lines rewritten as a
student might write them; a case that fails one is a false fail of the cases.
"""
from __future__ import annotations

from dataclasses import dataclass


class VariantError(Exception):
    """A variant's snippet is no longer in the reference (the reference was edited)."""


@dataclass(frozen=True)
class Variant:
    name: str
    section: str
    explanation: str
    edits: tuple[tuple[str, str], ...]  # (reference text, its replacement)

    def source(self, reference: str) -> str:
        for old, new in self.edits:
            if old not in reference:
                raise VariantError(f"variant {self.name}: {old.strip()!r} is not in the "
                                   "reference solution any more; update grader/audit/variants.py")
            reference = reference.replace(old, new, 1)
        return reference


VARIANTS = (
    Variant("relu_derivative_one_at_zero", "relu",
            "ReLU'(0) = 1 (the cases keep inputs off zero)",
            (("return grad_outputs * (inputs > 0)", "return grad_outputs * (inputs >= 0)"),)),
    Variant("relu_where", "relu", "np.where in both passes, integer zero",
            (("return np.maximum(inputs, 0.0)", "return np.where(inputs > 0, inputs, 0)"),
             ("return grad_outputs * (inputs > 0)",
              "return np.where(inputs > 0, grad_outputs, 0.0)"))),
    Variant("relu_masked_copy", "relu", "a copy with the negative entries set to zero",
            (("return np.maximum(inputs, 0.0)",
              "outputs = inputs.copy()\n        outputs[outputs < 0] = 0\n"
              "        return outputs"),)),
    Variant("softmax_einsum_jacobian", "softmax", "the full Jacobian built with einsum",
            (("weighted = np.sum(grad_outputs * outputs, axis=1, keepdims=True)\n"
              "        return outputs * (grad_outputs - weighted)",
              "eye = np.eye(outputs.shape[1])\n"
              "        jacobian = np.einsum('ij,jk->ijk', outputs, eye) - "
              "np.einsum('ij,ik->ijk', outputs, outputs)\n"
              "        return np.einsum('ijk,ij->ik', jacobian, grad_outputs)"),)),
    Variant("softmax_log_sum_exp", "softmax", "exp of the log-softmax (log-sum-exp)",
            (("exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))\n"
              "        return exps / exps.sum(axis=1, keepdims=True)",
              "shifted = inputs - np.max(inputs, axis=1, keepdims=True)\n"
              "        log_sum = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n"
              "        return np.exp(shifted - log_sum)"),)),
    Variant("dense_dot_and_sums", "dense", "np.dot, explicit sums over the batch",
            (("return inputs @ self.weights + self.biases",
              "return np.dot(inputs, self.weights) + self.biases[None, :]"),
             ("self.weights_grad = inputs.T @ grad_outputs / batch_size",
              "self.weights_grad = np.dot(inputs.T, grad_outputs) / batch_size"),
             ("self.biases_grad = grad_outputs.mean(axis=0)",
              "self.biases_grad = np.sum(grad_outputs, axis=0) / batch_size"),
             ("return grad_outputs @ self.weights.T",
              "return np.dot(grad_outputs, self.weights.T)"))),
    Variant("crossentropy_clipped_eps", "crossentropy",
            "predictions clipped at a small epsilon (1e-12) in the loss and its gradient",
            (("safe_pred = np.maximum(y_pred, np.finfo(np.float64).tiny)",
              "safe_pred = np.clip(y_pred, 1e-12, 1.0)"),
             ("return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny)",
              "return -y_gt / np.clip(y_pred, 1e-12, None)"))),
    Variant("crossentropy_course_clipping", "crossentropy",
            "the course's style: predictions clipped to [1e-7, 1 - 1e-7], a sum over the last "
            "axis",
            (("safe_pred = np.maximum(y_pred, np.finfo(np.float64).tiny)\n"
              "        return -np.sum(y_gt * np.log(safe_pred), axis=1)",
              "eps = 1e-7\n"
              "        return -np.sum(y_gt * np.log(np.clip(y_pred, eps, 1 - eps)), axis=-1)"),
             ("return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny)",
              "eps = 1e-7\n        return -y_gt / np.clip(y_pred, eps, 1 - eps)"))),
    Variant("sgd_in_place", "sgd", "the parameter updated in place and returned",
            (("return parameter - self._lr * parameter_grad",
              "parameter -= self._lr * parameter_grad\n            return parameter"),)),
    Variant("momentum_in_place_inertia", "momentum", "the inertia updated in place",
            (("updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad",
              "updater.inertia *= self._momentum\n"
              "            updater.inertia += self._lr * parameter_grad"),)),
    Variant("momentum_velocity", "momentum", "a velocity of the opposite sign, added",
            (("updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad\n"
              "            return parameter - updater.inertia",
              "updater.inertia = self._momentum * updater.inertia - self._lr * parameter_grad\n"
              "            return parameter + updater.inertia"),)),
)
