# -*- coding: utf-8 -*-
"""Задание: многослойная нейросеть на numpy (шаблон курса 2019 года).

A student's file in the layout of the course's 2019 template, written for the
grader's tests: lowercase markers, its own docstrings and Russian comments, and
`inputs = self.forward_inputs` / `outputs = self.forward_outputs` INSIDE the
students' regions (that template put them there). The regions hold correct
solutions; the grader must find no change to the given code.
"""
from interface import *


# ================================= 2.1.1 ReLU =================================
class ReLU(Layer):
    def forward(self, inputs):
        """Прямой проход: max(0, x) поэлементно.

        :param inputs: входы слоя, форма (n, ...)
        :return: выходы той же формы
        """
        # your code here \/
        return np.maximum(inputs, 0.0)
        # your code here /\

    def backward(self, grad_outputs):
        """Обратный проход: градиент проходит только там, где вход был положителен.

        :param grad_outputs: dLoss/dOutputs, форма (n, ...)
        :return: dLoss/dInputs, форма (n, ...)
        """
        # your code here \/
        inputs = self.forward_inputs
        return grad_outputs * (inputs > 0)
        # your code here /\


# ================================ 2.1.2 Softmax ===============================
class Softmax(Layer):
    def forward(self, inputs):
        """Softmax по каждой строке.

        :param inputs: логиты, форма (n, d)
        :return: вероятности, форма (n, d)
        """
        # your code here \/
        # вычитаем максимум строки, чтобы exp не переполнялся
        shifted = inputs - np.max(inputs, axis=1, keepdims=True)
        exps = np.exp(shifted)
        return exps / np.sum(exps, axis=1, keepdims=True)
        # your code here /\

    def backward(self, grad_outputs):
        """Произведение якобиана softmax на градиент по выходам.

        :param grad_outputs: dLoss/dOutputs, форма (n, d)
        :return: dLoss/dInputs, форма (n, d)
        """
        # your code here \/
        outputs = self.forward_outputs
        dot = np.sum(grad_outputs * outputs, axis=1, keepdims=True)
        return outputs * (grad_outputs - dot)
        # your code here /\


# ================================= 2.1.3 Dense ================================
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

        # Регистрируем веса и смещения как обучаемые параметры
        self.weights, self.weights_grad = self.add_parameter(
            name='weights',
            shape=(input_units, output_units),
            initializer=he_initializer(input_units)
        )

        self.biases, self.biases_grad = self.add_parameter(
            name='biases',
            shape=(output_units,),
            initializer=np.zeros
        )

    def forward(self, inputs):
        """Полносвязный слой: x W + b.

        :param inputs: форма (n, d)
        :return: форма (n, c)
        """
        # your code here \/
        return np.dot(inputs, self.weights) + self.biases
        # your code here /\

    def backward(self, grad_outputs):
        """Градиенты по входу, весам и смещениям (усреднённые по батчу).

        :param grad_outputs: форма (n, c)
        :return: форма (n, d)
        """
        # your code here \/
        inputs = self.forward_inputs
        n = inputs.shape[0]
        self.weights_grad = np.dot(inputs.T, grad_outputs) / n
        self.biases_grad = np.mean(grad_outputs, axis=0)
        return np.dot(grad_outputs, self.weights.T)
        # your code here /\


# ============================= 2.2.1 Crossentropy =============================
class CategoricalCrossentropy(Loss):
    def __call__(self, y_gt, y_pred):
        """Кросс-энтропия для каждого примера батча.

        :return: форма (n,)
        """
        # your code here \/
        clipped = np.clip(y_pred, np.finfo(np.float64).tiny, None)
        return -np.sum(y_gt * np.log(clipped), axis=1)
        # your code here /\

    def gradient(self, y_gt, y_pred):
        """Градиент потерь по y_pred (без деления на размер батча).

        :return: форма (n, d)
        """
        # your code here \/
        return -y_gt / np.clip(y_pred, np.finfo(np.float64).tiny, None)
        # your code here /\


# ================================== 2.3.1 SGD =================================
class SGD(Optimizer):
    def __init__(self, lr):
        self._lr = lr

    def get_parameter_updater(self, parameter_shape):
        """Функция обновления для одного параметра."""

        def updater(parameter, parameter_grad):
            """Шаг градиентного спуска."""
            # your code here \/
            return parameter - self._lr * parameter_grad
            # your code here /\

        return updater


# ============================== 2.3.2 SGDMomentum =============================
class SGDMomentum(Optimizer):
    def __init__(self, lr, momentum=0.0):
        self._lr = lr
        self._momentum = momentum

    def get_parameter_updater(self, parameter_shape):
        """Функция обновления с инерцией для одного параметра."""

        def updater(parameter, parameter_grad):
            """Шаг с моментом: инерция хранится в самой функции."""
            # your code here \/
            updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad
            return parameter - updater.inertia
            # your code here /\

        updater.inertia = np.zeros(parameter_shape)
        return updater


# ========================= 2.4 Обучение и тест на MNIST =======================
def train_mnist_model(x_train, y_train, x_valid, y_valid):
    # your code here \/
    # 1) модель
    model = Model(CategoricalCrossentropy(), SGDMomentum(lr=0.05, momentum=0.9))

    # 2) слои (у первого указываем форму входа)
    model.add(Dense(256, input_shape=(784,)))
    model.add(ReLU())
    model.add(Dense(128))
    model.add(ReLU())
    model.add(Dense(10))
    model.add(Softmax())

    # 3) обучение, затем дообучение с шагом в десять раз меньше
    model.fit(x_train, y_train, batch_size=128, epochs=10,
              x_valid=x_valid, y_valid=y_valid)
    model.optimizer._lr /= 10
    model.fit(x_train, y_train, batch_size=128, epochs=3,
              x_valid=x_valid, y_valid=y_valid)
    # your code here /\
    return model
