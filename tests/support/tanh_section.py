"""A Tanh layer as an instructor adds it (README, "Adding a section"): its class for
``reference/solution.py`` and its entry for ``test_cases/grading.toml``."""

TANH_CLASS = '''\
# ================================ 2.1.4 Tanh ================================
class Tanh(Layer):
    def forward(self, inputs):
        """
        :param inputs: np.array((n, ...)), input values

        :return: np.array((n, ...)), output values
        """
        # Your code here \\/
        return np.tanh(inputs)
        # Your code here /\\

    def backward(self, grad_outputs):
        """
        :param grad_outputs: np.array((n, ...)), dLoss/dOutputs

        :return: np.array((n, ...)), dLoss/dInputs
        """
        outputs = self.forward_outputs
        # Your code here \\/
        return grad_outputs * (1.0 - outputs ** 2)
        # Your code here /\\


'''
TANH_SECTION = '''\
[[sections]]
name = "tanh"
title = "2.1.4 Tanh"
points = 0.5
kind = "unit"
folder = "06_unittest_tanh"
class = "Tanh"
builder = "layer"

[[sections.public]]
name = "tanh_small"
description = "inputs (4, 5)"
shape = [4, 5]

[[sections.hidden]]
name = "tanh_4d"
description = "4-D input (3, 2, 4, 5)"
shape = [3, 2, 4, 5]

[[sections.hidden]]
name = "tanh_saturated"
description = "large inputs (8, 16): outputs near +-1"
shape = [8, 16]
scale = 10.0

'''
