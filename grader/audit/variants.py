"""Correct solutions written the ways students really write them: every case must pass each.

Each variant is the reference with some of its solution lines rewritten as students of
this course write them (seen in their files: an epsilon added or clipped in the loss,
log-sum-exp, einsum, gradients written into the given arrays in place, the other sign
convention of momentum, float32 arrays that numpy promotes). A case that fails one is a
false fail of the cases: the README's tolerance policy promises they all pass. The
epsilon variants follow ``[tolerance] max_epsilon`` of ``grading.toml``: every decade
from it down to 1e-12, added and clipped.
"""
from __future__ import annotations

import math
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


SMALLEST_EPSILON = 1e-12
LOSS = ("safe_pred = np.maximum(y_pred, np.finfo(np.float64).tiny)\n"
        "        return -np.sum(y_gt * np.log(safe_pred), axis=1)")
LOSS_GRADIENT = "return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny)"
SOFTMAX_FORWARD = ("exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))\n"
                   "        return exps / exps.sum(axis=1, keepdims=True)")
SOFTMAX_BACKWARD = ("weighted = np.sum(grad_outputs * outputs, axis=1, keepdims=True)\n"
                    "        return outputs * (grad_outputs - weighted)")
DENSE_FORWARD = "return inputs @ self.weights + self.biases"
DENSE_GRADIENTS = ("self.weights_grad = inputs.T @ grad_outputs / batch_size\n"
                   "        self.biases_grad = grad_outputs.mean(axis=0)\n"
                   "        return grad_outputs @ self.weights.T")
MOMENTUM = ("updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad\n"
            "            return parameter - updater.inertia")


def epsilon_variants(max_epsilon: float) -> tuple[Variant, ...]:
    """The loss guarded by an epsilon, as students write it: added (``y_pred + eps``) for
    every decade from ``max_epsilon`` down to 1e-12, clipped at ``max_epsilon`` (and its
    complement) and at 1e-12 with no upper bound."""
    decades = range(round(math.log10(SMALLEST_EPSILON)), math.floor(math.log10(max_epsilon)) + 1)
    added = [(f"{10.0 ** exponent:g}", 10.0 ** exponent) for exponent in reversed(decades)]
    variants = [Variant(
        f"crossentropy_added_eps_{text}", "crossentropy",
        f"an epsilon of {text} added to the predictions in the loss and its gradient",
        ((LOSS, f"return -np.sum(y_gt * np.log(y_pred + {value!r}), axis=1)"),
         (LOSS_GRADIENT, f"return -y_gt / (y_pred + {value!r})"))) for text, value in added]
    clipped = f"np.clip(y_pred, {max_epsilon!r}, 1 - {max_epsilon!r})"
    variants.append(Variant(
        f"crossentropy_clipped_{max_epsilon:g}", "crossentropy",
        f"predictions clipped to [{max_epsilon:g}, 1 - {max_epsilon:g}] (the course's way), "
        "a sum over the last axis",
        ((LOSS, f"eps = {max_epsilon!r}\n        return -np.sum(y_gt * np.log(np.clip(y_pred, "
                "eps, 1 - eps)), axis=-1)"),
         (LOSS_GRADIENT, f"return -y_gt / {clipped}"))))
    variants.append(Variant(
        "crossentropy_clipped_1e-12", "crossentropy",
        "predictions clipped from below at 1e-12 only, the loss with einsum",
        ((LOSS, "return -np.einsum('ij,ij->i', y_gt, np.log(np.clip(y_pred, 1e-12, None)))"),
         (LOSS_GRADIENT, "return -y_gt / np.clip(y_pred, 1e-12, None)"))))
    variants.append(Variant(
        "crossentropy_floor_in_a_copy", "crossentropy",
        f"a copy of the predictions whose entries below {max_epsilon:g} are set to it",
        ((LOSS_GRADIENT, f"floored = np.copy(y_pred)\n        floored[floored < {max_epsilon!r}] "
                         f"= {max_epsilon!r}\n        return -y_gt / floored"),)))
    return tuple(variants)


FORMS = (
    Variant("relu_derivative_one_at_zero", "relu",
            "ReLU'(0) = 1 (the cases keep inputs off zero)",
            (("return grad_outputs * (inputs > 0)", "return grad_outputs * (inputs >= 0)"),)),
    Variant("relu_where", "relu", "np.where in both passes, an integer zero",
            (("return np.maximum(inputs, 0.0)", "return np.where(inputs > 0, inputs, 0)"),
             ("return grad_outputs * (inputs > 0)",
              "return np.where(inputs > 0, grad_outputs, 0.0)"))),
    Variant("relu_masked_copy", "relu", "a copy with the negative entries set to zero, a "
            "float32 mask that numpy promotes",
            (("return np.maximum(inputs, 0.0)",
              "outputs = inputs.copy()\n        outputs[outputs < 0] = 0\n"
              "        return outputs"),
             ("return grad_outputs * (inputs > 0)",
              "return grad_outputs * (inputs > 0).astype(np.float32)"))),
    Variant("relu_product_with_mask", "relu", "inputs times their mask, np.maximum(0, x)",
            (("return np.maximum(inputs, 0.0)", "return inputs * (inputs > 0)"),
             ("return grad_outputs * (inputs > 0)",
              "mask = np.maximum(0, np.sign(inputs))\n        return mask * grad_outputs"))),
    Variant("softmax_einsum_jacobian", "softmax", "the full Jacobian built with einsum",
            ((SOFTMAX_BACKWARD,
              "eye = np.eye(outputs.shape[1])\n"
              "        jacobian = np.einsum('ij,jk->ijk', outputs, eye) - "
              "np.einsum('ij,ik->ijk', outputs, outputs)\n"
              "        return np.einsum('ijk,ij->ik', jacobian, grad_outputs)"),)),
    Variant("softmax_log_sum_exp", "softmax", "exp of the log-softmax (log-sum-exp)",
            ((SOFTMAX_FORWARD,
              "shifted = inputs - np.max(inputs, axis=1, keepdims=True)\n"
              "        log_sum = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n"
              "        return np.exp(shifted - log_sum)"),)),
    Variant("softmax_row_max_by_index", "softmax",
            "the row maximum by [:, None], an epsilon of 1e-15 in the denominator, the "
            "backward expanded",
            ((SOFTMAX_FORWARD,
              "exps = np.exp(inputs - np.amax(inputs, axis=-1)[:, None])\n"
              "        return exps / (np.sum(exps, axis=1)[:, None] + 1e-15)"),
             (SOFTMAX_BACKWARD,
              "return grad_outputs * outputs - np.sum(outputs * grad_outputs, axis=1)"
              "[:, None] * outputs"))),
    Variant("dense_dot_and_sums", "dense", "np.dot, explicit sums over the batch",
            ((DENSE_FORWARD, "return np.dot(inputs, self.weights) + self.biases[None, :]"),
             (DENSE_GRADIENTS,
              "self.weights_grad = np.dot(inputs.T, grad_outputs) / batch_size\n"
              "        self.biases_grad = np.sum(grad_outputs, axis=0) / batch_size\n"
              "        return np.dot(grad_outputs, self.weights.T)"))),
    Variant("dense_einsum_in_place", "dense",
            "einsum, the gradients written into the given arrays in place, a float32 "
            "ones vector that numpy promotes",
            ((DENSE_FORWARD, "return np.einsum('ij,jk->ik', inputs, self.weights) + self.biases"),
             (DENSE_GRADIENTS,
              "self.weights_grad[...] = np.einsum('ij,ik->jk', inputs, grad_outputs) / "
              "batch_size\n"
              "        self.biases_grad[...] = np.ones(batch_size, dtype=np.float32) @ "
              "grad_outputs / batch_size\n"
              "        return np.einsum('ij,kj->ki', self.weights, grad_outputs)"))),
    Variant("dense_float32_outputs", "dense", "outputs returned as float32 (the comparison "
            "promotes them)",
            ((DENSE_FORWARD, "return (inputs @ self.weights + self.biases).astype(np.float32)"),)),
    Variant("dense_matmul", "dense", "np.matmul and np.mean",
            ((DENSE_FORWARD, "return np.matmul(inputs, self.weights) + self.biases"),
             (DENSE_GRADIENTS,
              "self.weights_grad = np.matmul(inputs.T, grad_outputs) / batch_size\n"
              "        self.biases_grad = np.mean(grad_outputs, axis=0)\n"
              "        return np.matmul(grad_outputs, self.weights.T)"))),
    Variant("sgd_in_place", "sgd", "the parameter updated in place and returned",
            (("return parameter - self._lr * parameter_grad",
              "parameter -= self._lr * parameter_grad\n            return parameter"),)),
    Variant("momentum_in_place_inertia", "momentum", "the inertia updated in place",
            (("updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad",
              "updater.inertia *= self._momentum\n"
              "            updater.inertia += self._lr * parameter_grad"),)),
    Variant("momentum_written_into_inertia", "momentum",
            "the inertia written with [...] =, the parameter updated in place",
            ((MOMENTUM,
              "updater.inertia[...] = updater.inertia * self._momentum + self._lr * "
              "parameter_grad\n            parameter -= updater.inertia\n"
              "            return parameter"),)),
    Variant("momentum_velocity", "momentum", "a velocity of the opposite sign, added",
            ((MOMENTUM,
              "updater.inertia = self._momentum * updater.inertia - self._lr * parameter_grad\n"
              "            return parameter + updater.inertia"),)),
)


def accepted_variants(max_epsilon: float) -> tuple[Variant, ...]:
    """Every accepted variant: the forms above and the epsilon variants of the policy."""
    return FORMS + epsilon_variants(max_epsilon)
