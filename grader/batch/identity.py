"""What a stored result depends on: the file, the test cases and limits, the grader.

A result is reused only for the same (file SHA-256, cases digest, grader version)
triple. The grader version is the package version plus a digest of the grader's and
the reference's source, so an edited install never reuses what an older one decided.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from grader import __version__
from grader.options import GradingOptions
from grader.paths import REPO_DIR

SOURCE_PACKAGES = ("grader", "reference")


def file_sha256(path: Path | None) -> str:
    """The file's SHA-256; for a student with no gradable file, that of nothing."""
    digest = hashlib.sha256()
    if path is not None:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _tree_digest(root: Path, pattern: str) -> hashlib._Hash:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob(pattern) if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest


@lru_cache(maxsize=1)
def grader_version() -> str:
    digest = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        digest.update(_tree_digest(REPO_DIR / package, "*.py").digest())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def cases_digest(options: GradingOptions) -> str:
    """The test cases and limits (every file of the cases folder, grading.toml included)
    and the options that change a verdict."""
    digest = _tree_digest(Path(options.cases_dir), "*")
    digest.update(f"skip_mnist={options.skip_mnist};blas={options.blas_threads}".encode())
    return digest.hexdigest()
