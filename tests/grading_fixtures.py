"""Shared helpers for grading tests: a copy of the test cases with lowered limits, fake MNIST."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from grader.mnist import cache, sources
from grader.paths import DEFAULT_CASES_DIR, REPO_DIR
from reference.mnist_data import MnistData

REFERENCE_SOLUTION = REPO_DIR / "reference" / "solution.py"
TEMPLATE_SOLUTION = REPO_DIR / "student_template" / "solution.py"
# what students' files do besides the assignment: plot and show progress, at import
PLOTS_AND_PROGRESS = '''import matplotlib.pyplot as plt
from tqdm import tqdm

_figure, _axes = plt.subplots()
_axes.plot([0, 1, 2], [2.3, 0.9, 0.4], label="loss")
_axes.legend()
_figure.savefig("/tmp/loss.png")
plt.show()
for _ in tqdm(range(3), desc="warming up"):
    pass
'''


def cases_with_limits(target: Path, toml: str) -> Path:
    """Copy ``test_cases/`` to ``target`` and replace its ``grading.toml``."""
    shutil.copytree(DEFAULT_CASES_DIR, target)
    (target / "grading.toml").write_text(toml, encoding="utf-8")
    return target


def synthetic_mnist_cache(cache_dir: Path, n_train: int = 3000, n_test: int = 500) -> Path:
    """A small, easily learnt stand-in for MNIST: one noisy template per digit."""
    rng = np.random.default_rng(7)
    templates = rng.integers(0, 256, (10, 28, 28))

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, count).astype(np.uint8)
        noise = rng.integers(-60, 61, (count, 28, 28))
        return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8), labels

    (x_train, y_train), (x_test, y_test) = draw(n_train), draw(n_test)
    data = MnistData(x_train, y_train, x_test, y_test, name=sources.SUBSET_NAME,
                                source="synthetic test digits")
    cache.save(data, cache_dir)
    return cache_dir


def solution_with(tmp_path: Path, old: str, new: str, name: str = "solution.py") -> Path:
    """The reference solution with one snippet replaced (the snippet must exist)."""
    source = REFERENCE_SOLUTION.read_text(encoding="utf-8")
    assert old in source, f"snippet not in the reference solution: {old!r}"
    path = tmp_path / name
    path.write_text(source.replace(old, new), encoding="utf-8")
    return path


def with_header(tmp_path: Path, header: str) -> Path:
    """The reference solution with ``header`` in front of it."""
    path = tmp_path / "solution.py"
    path.write_text(header + REFERENCE_SOLUTION.read_text(encoding="utf-8"), encoding="utf-8")
    return path
