"""The grader's MNIST: sources, the cache, and what one grading gets (the labels stay here)."""
from grader.mnist.inputs import MnistDataError, MnistInputs, load_mnist, prepare_mnist_inputs

__all__ = ["MnistDataError", "MnistInputs", "load_mnist", "prepare_mnist_inputs"]
