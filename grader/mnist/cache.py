"""The grader's MNIST cache: one folder per data set, the test labels apart.

``<root>/<name>/train.npz`` (x, y), ``test_images.npy``, ``test_labels.npy``
and ``info.json`` (source, sizes, SHA-256 of each file), root
``$GRADER_CACHE_DIR`` or ``~/.cache/nn-grader/mnist``. Files are written
atomically and ``info.json`` last; a folder counts only when every file has
its recorded SHA-256. The boxes get ``train.npz`` and ``test_images.npy``
(mounted read-only), never the labels, which only the host reads.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from grader.files import atomic_stream
from grader.mnist.sources import FULL_NAME, SUBSET_NAME, sha256_file, validate
from reference.mnist_data import MnistData, MnistError

LABELS_FILE = "test_labels.npy"  # never in a box
FILES = ("train.npz", "test_images.npy", LABELS_FILE)


def default_root() -> Path:
    """``$GRADER_CACHE_DIR`` if set, else ``~/.cache/nn-grader/mnist``."""
    configured = os.environ.get("GRADER_CACHE_DIR")
    return Path(configured).expanduser() if configured else \
        Path.home() / ".cache" / "nn-grader" / "mnist"


def _atomic_write(path: Path, writer: Callable[[BinaryIO], None]) -> None:
    """Stream ``path`` in whole or not at all, on the disk before it counts; readable by the
    boxes (``train.npz``, ``test_images.npy``)."""
    with atomic_stream(path, fsync=True) as stream:
        writer(stream)


def save(data: MnistData, root: Path | None = None) -> Path:
    """Write ``data`` to ``<root>/<data.name>/``; returns the folder."""
    folder = (root or default_root()) / data.name
    (folder / "info.json").unlink(missing_ok=True)  # never an info.json over a mix of files
    _atomic_write(folder / "train.npz", lambda stream: np.savez(
        stream, x=np.ascontiguousarray(data.x_train), y=np.ascontiguousarray(data.y_train)))
    _atomic_write(folder / "test_images.npy",
                  lambda stream: np.save(stream, np.ascontiguousarray(data.x_test)))
    _atomic_write(folder / "test_labels.npy",
                  lambda stream: np.save(stream, np.ascontiguousarray(data.y_test)))
    info = {"name": data.name, "source": data.source, "n_train": int(data.x_train.shape[0]),
            "n_test": int(data.x_test.shape[0]),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "sha256": {name: sha256_file(folder / name) for name in FILES}}
    payload = (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()
    _atomic_write(folder / "info.json", lambda stream: stream.write(payload))
    return folder


def _info(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / "info.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("sha256"), dict) else None


def checked_file(folder: Path, info: dict, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise MnistError(f"cache {folder}: {name} is missing")
    expected, got = info["sha256"].get(name), sha256_file(path)
    if got != expected:
        raise MnistError(f"cache {folder}: {name} SHA-256 mismatch (expected {expected}, "
                         f"got {got})")
    return path


def load(root: Path | None = None, name: str = FULL_NAME) -> MnistData | None:
    """The cached data set ``name``; None when absent or not intact (then it is not used)."""
    folder = (root or default_root()) / name
    info = _info(folder)
    if info is None:
        return None
    try:
        with np.load(checked_file(folder, info, "train.npz"), allow_pickle=False) as train:
            x_train, y_train = train["x"], train["y"]
        x_test = np.load(checked_file(folder, info, "test_images.npy"), allow_pickle=False)
        y_test = np.load(checked_file(folder, info, "test_labels.npy"), allow_pickle=False)
        data = validate(MnistData(x_train, y_train, x_test, y_test, name,
                                  f"{info.get('source')} [cached in {folder}]"),
                        None, f"cache {folder}")
        if (x_train.shape[0], x_test.shape[0]) != (info.get("n_train"), info.get("n_test")):
            raise MnistError(f"cache {folder}: sizes differ from info.json")
    except (MnistError, OSError, ValueError, KeyError) as error:
        print(f"nn-grader: ignoring an invalid MNIST cache: {error}", file=sys.stderr)
        return None
    return data


def label_files(root: Path | None = None) -> list[Path]:
    """The test labels of every data set in the cache: what no submission may read."""
    return sorted((root or default_root()).glob(f"*/{LABELS_FILE}"))


def cached_names(root: Path | None = None) -> list[str]:
    """Data sets in the cache, the full MNIST first."""
    return [name for name in (FULL_NAME, SUBSET_NAME) if _info((root or default_root()) / name)]
