# -*- coding: utf-8 -*-
# The layout of an older year's template of the course, as its students' files have it
# (written from the course's API description): other headers and docstrings, Russian
# comments, the given `inputs = self.forward_inputs` inside the regions, the parameter
# registration in another order, a coding line. The regions hold the
# reference solution's code. The grader must see no change to the given code here.
from interface import *


# ============================== 2.1.1 ReLU ===============================
class ReLU(Layer):
    def forward(self, inputs):
        """Прямой проход ReLU.

        :param inputs: входы, форма (n, ...)
        :return: выходы той же формы
        """
        # Your code here \/
        return np.maximum(inputs, 0.0)
        # Your code here /\

    def backward(self, grad_outputs):
        """Обратный проход ReLU: dLoss/dInputs."""
        # Your code here \/
        inputs = self.forward_inputs
        return grad_outputs * (inputs > 0)
        # Your code here /\


# ============================= 2.1.2 Softmax =============================
class Softmax(Layer):
    def forward(self, inputs):
        """Softmax по строкам: (n, d) -> (n, d)."""
        # Your code here \/
        exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))
        return exps / exps.sum(axis=1, keepdims=True)
        # Your code here /\

    def backward(self, grad_outputs):
        """dLoss/dInputs через якобиан softmax."""
        # Your code here \/
        outputs = self.forward_outputs
        weighted = np.sum(grad_outputs * outputs, axis=1, keepdims=True)
        return outputs * (grad_outputs - weighted)
        # Your code here /\


# ============================== 2.1.3 Dense ==============================
class Dense(Layer):
    def __init__(self, units, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output_shape = (units,)
        self.weights, self.weights_grad = None, None
        self.biases, self.biases_grad = None, None

    def build(self, *args, **kwargs):
        super().build(*args, **kwargs)

        input_units, = self.input_shape
        output_units, = self.output_shape

        # Регистрируем параметры слоя
        self.biases, self.biases_grad = self.add_parameter(
            name='biases',
            shape=(output_units,),
            initializer=np.zeros
        )
        self.weights, self.weights_grad = self.add_parameter(
            name='weights',
            shape=(input_units, output_units),
            initializer=he_initializer(input_units)
        )

    def forward(self, inputs):
        """(n, d) -> (n, c)"""
        # Your code here \/
        return inputs @ self.weights + self.biases
        # Your code here /\

    def backward(self, grad_outputs):
        """(n, c) -> (n, d); заполняет weights_grad и biases_grad"""
        # Your code here \/
        inputs = self.forward_inputs
        batch_size = grad_outputs.shape[0]
        self.weights_grad = inputs.T @ grad_outputs / batch_size
        self.biases_grad = grad_outputs.mean(axis=0)
        return grad_outputs @ self.weights.T
        # Your code here /\


# ========================== 2.2.1 Crossentropy ===========================
class CategoricalCrossentropy(Loss):
    def __call__(self, y_gt, y_pred):
        """Потери для каждого примера: (n,)"""
        # Your code here \/
        safe_pred = np.maximum(y_pred, np.finfo(np.float64).tiny)
        return -np.sum(y_gt * np.log(safe_pred), axis=1)
        # Your code here /\

    def gradient(self, y_gt, y_pred):
        """dLoss/dY_pred: (n, d)"""
        # Your code here \/
        return -y_gt / np.maximum(y_pred, np.finfo(np.float64).tiny)
        # Your code here /\


# =============================== 2.3.1 SGD ===============================
class SGD(Optimizer):
    def __init__(self, lr):
        self._lr = lr

    def get_parameter_updater(self, parameter_shape):
        """Функция обновления одного параметра."""

        def updater(parameter, parameter_grad):
            """Новое значение параметра."""
            # Your code here \/
            return parameter - self._lr * parameter_grad
            # Your code here /\

        return updater


# =========================== 2.3.2 SGDMomentum ===========================
class SGDMomentum(Optimizer):
    def __init__(self, lr, momentum=0.0):
        self._lr = lr
        self._momentum = momentum

    def get_parameter_updater(self, parameter_shape):
        """Функция обновления одного параметра, с инерцией."""

        def updater(parameter, parameter_grad):
            """Новое значение параметра."""
            # Your code here \/
            updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad
            return parameter - updater.inertia
            # Your code here /\

        updater.inertia = np.zeros(parameter_shape)
        return updater


# ===================== 2.4 Train and Test on MNIST ======================
def train_mnist_model(x_train, y_train, x_valid, y_valid):
    # Your code here \/
    model = Model(CategoricalCrossentropy(), SGDMomentum(lr=0.05, momentum=0.9))
    model.add(Dense(256, input_shape=(784,)))
    model.add(ReLU())
    model.add(Dense(128))
    model.add(ReLU())
    model.add(Dense(10))
    model.add(Softmax())
    model.fit(x_train, y_train, batch_size=128, epochs=10, x_valid=x_valid, y_valid=y_valid)
    model.optimizer._lr /= 10
    model.fit(x_train, y_train, batch_size=128, epochs=3, x_valid=x_valid, y_valid=y_valid)
    # Your code here /\
    return model
