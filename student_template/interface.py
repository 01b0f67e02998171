"""Course framework that students' ``solution.py`` codes against (``from interface import *``).

A drop-in replacement for the course's ``interface`` module: the same class and
method names, signatures, attribute names and shapes, so that a solution written
for the course runs unchanged. Differences are fixes only: ``evaluate`` skips
the empty last batch, and ``fit`` avoids copies beyond one per batch.
"""
from abc import ABC, abstractmethod
import sys

import numpy as np

try:
    from tqdm.auto import tqdm
except ImportError:  # progress falls back to plain prints
    tqdm = None

# Overflow, division by zero and invalid operations raise FloatingPointError,
# so an unstable softmax or log(0) is caught instead of silently giving NaN.
np.seterr(over="raise", divide="raise", invalid="raise", under="ignore")

__all__ = [
    "np", "he_initializer", "Layer", "Loss", "Optimizer", "Model",
]


def he_initializer(input_dim):
    """He initialisation: standard normal values scaled by sqrt(2 / input_dim)."""
    scale = np.sqrt(2.0 / input_dim)

    def _he_initializer(shape):
        return np.random.randn(*shape) * scale

    return _he_initializer


def _as_shape(shape):
    """Accept ``784``, ``[784]`` or ``(784,)`` for a shape; keep None."""
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(dim) for dim in shape)


class Layer(ABC):
    """One layer of a sequential network: forward and backward pass."""

    def __init__(self, input_shape=None):
        self.input_shape = _as_shape(input_shape)
        self.output_shape = None
        self.forward_inputs = None
        self.forward_outputs = None
        self.optimizer = None
        self.is_built = False
        self.name = type(self).__name__
        self._parameter_updaters = {}

    def build(self, optimizer, prev_layer=None):
        self.optimizer = optimizer
        if prev_layer is not None:
            self.input_shape = _as_shape(prev_layer.output_shape)
        if self.input_shape is None:
            raise ValueError(
                f"{self.name}: input_shape is unknown; pass input_shape=... "
                "to the first layer of the model"
            )
        self.output_shape = _as_shape(self.output_shape) or self.input_shape
        self.is_built = True

    def add_parameter(self, name, shape, initializer):
        """Register a trainable parameter; returns ``(initial value, zero gradient)``."""
        if not self.is_built:
            raise RuntimeError(
                f"{self.name}: add_parameter('{name}') must be called after build()"
            )
        self._parameter_updaters[name] = self.optimizer.get_parameter_updater(shape)
        return initializer(shape), np.zeros(shape)

    def update_parameters(self):
        """Write ``updater(param, grad)`` into every registered parameter in place."""
        for name, updater in self._parameter_updaters.items():
            grad_name = name + "_grad"
            parameter = getattr(self, name, None)
            parameter_grad = getattr(self, grad_name, None)
            if parameter is None or parameter_grad is None:
                raise AttributeError(
                    f"{self.name}: parameter '{name}' needs both self.{name} and "
                    f"self.{grad_name} to be set before update_parameters()"
                )
            parameter[...] = updater(parameter, parameter_grad)

    def num_of_parameters(self):
        return sum(int(np.prod(getattr(self, name).shape)) for name in self._parameter_updaters)

    def __call__(self, inputs):
        self.forward_inputs = inputs
        outputs = self.forward(inputs)
        self.forward_outputs = outputs
        # backward must not modify the stored arrays in place
        for array in (inputs, outputs):
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
        return outputs

    def __repr__(self):
        return f"{self.name}(input_shape={self.input_shape}, output_shape={self.output_shape})"

    @abstractmethod
    def forward(self, inputs):
        """Return the layer's outputs for a batch ``inputs`` of shape (n, ...)."""

    @abstractmethod
    def backward(self, grad_outputs):
        """Return dLoss/dInputs; fill ``self.<param>_grad`` for trainable parameters."""


class Loss(ABC):
    """A loss function: per-sample values and their gradient."""

    @abstractmethod
    def __call__(self, y_gt, y_pred):
        """Return the loss of every sample, shape (n,)."""

    @abstractmethod
    def gradient(self, y_gt, y_pred):
        """Return dLoss/dy_pred per sample, shape (n, d), not divided by n."""


class Optimizer(ABC):
    """Creates one updater closure per trainable parameter."""

    @abstractmethod
    def get_parameter_updater(self, parameter_shape):
        """Return ``updater(parameter, parameter_grad) -> new_parameter``."""


class Model:
    """A sequential network trained by minibatch gradient descent."""

    def __init__(self, loss, optimizer):
        if not isinstance(loss, Loss):
            raise RuntimeError(f"Model: loss must be a Loss instance, got {type(loss).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise RuntimeError(
                f"Model: optimizer must be an Optimizer instance, got {type(optimizer).__name__}"
            )
        self.loss = loss
        self.optimizer = optimizer
        self.layers = []
        self.last_y_pred = None
        self.loss_train_history = []
        self.loss_valid_history = []
        self.accuracy_train_history = []
        self.accuracy_valid_history = []

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise RuntimeError(f"Model.add: expected a Layer, got {type(layer).__name__}")
        prev_layer = self.layers[-1] if self.layers else None
        layer.build(self.optimizer, prev_layer=prev_layer)
        self.layers.append(layer)

    @staticmethod
    def _check_shape(where, array, expected):
        shape = getattr(array, "shape", None)
        if shape is None or tuple(shape[1:]) != tuple(expected):
            raise ValueError(
                f"{where}: expected an array of shape (n, {', '.join(map(str, expected))}), "
                f"got {type(array).__name__} of shape {shape}"
            )

    def forward(self, x):
        for layer in self.layers:
            self._check_shape(f"{layer.name}.forward input", x, layer.input_shape)
            x = layer(x)
            self._check_shape(f"{layer.name}.forward output", x, layer.output_shape)
        self.last_y_pred = x
        return x

    def backward(self, y_gt):
        grad = self.loss.gradient(y_gt, self.last_y_pred)
        for layer in reversed(self.layers):
            self._check_shape(f"{layer.name}.backward input", grad, layer.output_shape)
            grad = layer.backward(grad)
            self._check_shape(f"{layer.name}.backward output", grad, layer.input_shape)
        return grad

    def get_metrics(self, y_gt, y_pred):
        """Return (mean per-sample loss, accuracy) of one batch."""
        loss = float(np.mean(self.loss(y_gt, y_pred)))
        accuracy = float(np.mean(np.argmax(y_gt, axis=1) == np.argmax(y_pred, axis=1)))
        return loss, accuracy

    def fit_batch(self, x_batch, y_batch):
        y_pred = self.forward(x_batch)
        self.backward(y_batch)
        for layer in self.layers:
            layer.update_parameters()
        return self.get_metrics(y_batch, y_pred)

    def fit(self, x_train, y_train, batch_size, epochs, shuffle=True, verbose=True,
            x_valid=None, y_valid=None):
        """Train on full batches only, shuffling every epoch; record the histories."""
        n_samples = x_train.shape[0]
        n_batches = n_samples // batch_size
        if n_batches == 0:
            raise ValueError(f"Model.fit: batch_size {batch_size} exceeds the {n_samples} samples")
        for epoch in range(epochs):
            # one copy per batch (fancy indexing) instead of copying the whole set
            order = np.random.permutation(n_samples) if shuffle else None
            batches = range(n_batches)
            if verbose and tqdm is not None:
                batches = tqdm(batches, desc=f"Epoch {epoch + 1}/{epochs}", leave=False,
                               file=sys.stdout)
            loss_sum = accuracy_sum = 0.0
            for batch in batches:
                start, stop = batch * batch_size, (batch + 1) * batch_size
                if order is None:
                    x_batch, y_batch = x_train[start:stop], y_train[start:stop]
                else:
                    indices = order[start:stop]
                    x_batch, y_batch = x_train[indices], y_train[indices]
                loss, accuracy = self.fit_batch(x_batch, y_batch)
                loss_sum += loss
                accuracy_sum += accuracy
            self.loss_train_history.append(loss_sum / n_batches)
            self.accuracy_train_history.append(accuracy_sum / n_batches)
            line = (f"Epoch {epoch + 1}/{epochs}: train loss {self.loss_train_history[-1]:.4f}, "
                    f"train accuracy {self.accuracy_train_history[-1]:.4f}")
            if x_valid is not None and y_valid is not None:
                valid_loss, valid_accuracy = self.evaluate(x_valid, y_valid, batch_size)
                self.loss_valid_history.append(valid_loss)
                self.accuracy_valid_history.append(valid_accuracy)
                line += f", valid loss {valid_loss:.4f}, valid accuracy {valid_accuracy:.4f}"
            if verbose:
                print(line, flush=True)

    def evaluate(self, x, y, batch_size):
        """Return (mean loss, accuracy) over all samples (never an empty last batch)."""
        loss_sum = 0.0
        correct = 0
        n_samples = x.shape[0]
        for start in range(0, n_samples, batch_size):
            x_batch, y_batch = x[start:start + batch_size], y[start:start + batch_size]
            y_pred = self.forward(x_batch)
            loss_sum += float(np.sum(self.loss(y_batch, y_pred)))
            correct += int(np.sum(np.argmax(y_batch, axis=1) == np.argmax(y_pred, axis=1)))
        return loss_sum / max(n_samples, 1), correct / max(n_samples, 1)

    def print_parameters(self):
        for layer in self.layers:
            print(f"{layer!r}: {layer.num_of_parameters()} parameters")

    def __repr__(self):
        lines = [f"Model(loss={type(self.loss).__name__}, optimizer={type(self.optimizer).__name__})"]
        lines += [f"  {layer!r}" for layer in self.layers]
        return "\n".join(lines)
