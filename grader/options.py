"""How one grading is asked for: the options every entry point (CLI, batch, tests) passes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CASES_DIR = REPO_DIR / "test_cases"
BACKENDS = ("process", "docker")


@dataclass(frozen=True)
class GradingOptions:
    cases_dir: Path = DEFAULT_CASES_DIR
    skip_mnist: bool = False
    sections: frozenset[str] | None = None  # grade only these sections (None: all); the others
                                            # read "skipped" (grader serve's lanes)
    mnist_dir: Path | None = None
    mnist_cache_dir: Path | None = None  # default: $GRADER_CACHE_DIR or ~/.cache/nn-grader/mnist
    mnist_fetch: bool = True  # False: only a directory or the cache, never download or npm
    blas_threads: int | None = None  # for MNIST (None: grading.toml's); unit sections use one
    backend: str = "process"  # process: a bubblewrap box per submission; docker: a container
    image: str | None = None  # docker backend: None means grading.toml's [docker] image
    sandbox: bool = True  # False: no box at all (--no-sandbox), for trusted code only
    box: str | None = None  # a kind of grader.boxes.BOXES by name (None: chosen from the above)
