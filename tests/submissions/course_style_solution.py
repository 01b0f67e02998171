from interface import *


# ================================ 2.1.1 ReLU ================================
class ReLU(Layer):
    def forward(self, inputs):
        """
        :param inputs: np.array((n, ...)), input values

        :return: np.array((n, ...)), output values

            n - batch size
            ... - arbitrary shape (the same for input and output)
        """
        # Your code here \/
        return inputs * (inputs > 0)
        # Your code here /\

    def backward(self, grad_outputs):
        """
        :param grad_outputs: np.array((n, ...)), dLoss/dOutputs

        :return: np.array((n, ...)), dLoss/dInputs

            n - batch size
            ... - arbitrary shape (the same for input and output)
        """
        inputs = self.forward_inputs
        # Your code here \/
        return np.where(inputs >= 0, grad_outputs, 0.0)
        # Your code here /\


# =============================== 2.1.2 Softmax ==============================
class Softmax(Layer):
    def forward(self, inputs):
        """
        :param inputs: np.array((n, d)), input values

        :return: np.array((n, d)), output values

            n - batch size
            d - number of units
        """
        # Your code here \/
        shifted = inputs - np.max(inputs, axis=-1)[:, None]
        e = np.exp(shifted)
        return e / np.sum(e, axis=-1)[:, None]
        # Your code here /\

    def backward(self, grad_outputs):
        """
        :param grad_outputs: np.array((n, d)), dLoss/dOutputs

        :return: np.array((n, d)), dLoss/dInputs

            n - batch size
            d - number of units
        """
        outputs = self.forward_outputs
        # Your code here \/
        n, d = outputs.shape
        jacobian = (np.einsum('ni,ij->nij', outputs, np.eye(d))
                    - np.einsum('ni,nj->nij', outputs, outputs))
        return np.einsum('nij,ni->nj', jacobian, grad_outputs)
        # Your code here /\


# ================================ 2.1.3 Dense ===============================
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

        # Register weights and biases as trainable parameters
        # Note, that the parameters and gradients *must* be stored in
        # self.<p> and self.<p>_grad, where <p> is the name specified in
        # self.add_parameter

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
        """
        :param inputs: np.array((n, d)), input values

        :return: np.array((n, c)), output values

            n - batch size
            d - number of input units
            c - number of output units
        """
        # Your code here \/
        return np.dot(inputs, self.weights) + self.biases
        # Your code here /\

    def backward(self, grad_outputs):
        """
        :param grad_outputs: np.array((n, c)), dLoss/dOutputs

        :return: np.array((n, d)), dLoss/dInputs

            n - batch size
            d - number of input units
            c - number of output units
        """
        inputs = self.forward_inputs
        # Your code here \/
        n = inputs.shape[0]
        self.weights_grad = np.dot(inputs.T, grad_outputs) / n
        self.biases_grad = np.sum(grad_outputs, axis=0) / n
        return np.dot(grad_outputs, self.weights.T)
        # Your code here /\


# ============================ 2.2.1 Crossentropy ============================
class CategoricalCrossentropy(Loss):
    def __call__(self, y_gt, y_pred):
        """
        :param y_gt: np.array((n, d)), ground truth (correct) labels
        :param y_pred: np.array((n, d)), estimated target values

        :return: np.array((n,)), loss scalars for batch

            n - batch size
            d - number of units
        """
        # Your code here \/
        eps = 1e-7
        return -np.sum(y_gt * np.log(np.clip(y_pred, eps, 1 - eps)), axis=-1)
        # Your code here /\

    def gradient(self, y_gt, y_pred):
        """
        :param y_gt: np.array((n, d)), ground truth (correct) labels
        :param y_pred: np.array((n, d)), estimated target values

        :return: np.array((n, d)), gradient loss to y_pred

            n - batch size
            d - number of units
        """
        # Your code here \/
        eps = 1e-7
        return -y_gt / np.clip(y_pred, eps, 1 - eps)
        # Your code here /\


# ================================= 2.3.1 SGD ================================
class SGD(Optimizer):
    def __init__(self, lr):
        self._lr = lr

    def get_parameter_updater(self, parameter_shape):
        """
        :param parameter_shape: tuple, the shape of the associated parameter

        :return: the updater function for that parameter
        """

        def updater(parameter, parameter_grad):
            """
            :param parameter: np.array, current parameter values
            :param parameter_grad: np.array, current gradient, dLoss/dParam

            :return: np.array, new parameter values
            """
            # Your code here \/
            return parameter - self._lr * parameter_grad
            # Your code here /\

        return updater


# ============================= 2.3.2 SGDMomentum ============================
class SGDMomentum(Optimizer):
    def __init__(self, lr, momentum=0.0):
        self._lr = lr
        self._momentum = momentum

    def get_parameter_updater(self, parameter_shape):
        """
        :param parameter_shape: tuple, the shape of the associated parameter

        :return: the updater function for that parameter
        """

        def updater(parameter, parameter_grad):
            """
            :param parameter: np.array, current parameter values
            :param parameter_grad: np.array, current gradient, dLoss/dParam

            :return: np.array, new parameter values
            """
            # Your code here \/
            updater.inertia *= self._momentum
            updater.inertia += self._lr * parameter_grad
            return parameter - updater.inertia
            # Your code here /\

        updater.inertia = np.zeros(parameter_shape)
        return updater


# ======================= 2.4 Train and Test on MNIST ========================
def train_mnist_model(x_train, y_train, x_valid, y_valid):
    # Your code here \/
    model = Model(CategoricalCrossentropy(), SGDMomentum(lr=0.01, momentum=0.9))
    model.add(Dense(128, input_shape=(784,)))
    model.add(ReLU())
    model.add(Dense(10))
    model.add(Softmax())
    model.fit(x_train, y_train, batch_size=32, epochs=3, x_valid=x_valid, y_valid=y_valid)
    # Your code here /\
    return model
