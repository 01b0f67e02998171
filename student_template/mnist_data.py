"""MNIST for the assignment: read the four standard files, preprocess them as the course does.

Shipped to students next to their solution (standard library and numpy; the
one-time download uses ``pooch`` when it is installed). The files are looked
for in ``$MNIST_DIR``, else in ``mnist/`` next to this module, plain
(``train-images-idx3-ubyte``) or gzipped, also in torchvision's
``MNIST/raw`` layout. ``load_mnist()`` downloads what is missing, checking
every file's SHA-256.
"""
from __future__ import annotations

import gzip
import os
import random
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: The four standard files: key -> gz file name.
MNIST_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
#: Official SHA-256 of the gz files (as the mirrors serve them) and of the IDX files inside.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
#: Public mirrors of the gz files, tried in order (``$MNIST_MIRRORS``, comma-separated, overrides).
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
#: The course's standardisation (mean and standard deviation of all 70,000 MNIST pixel
#: values) and seed.
COURSE_MEAN = 33.385964741253645
COURSE_STD = 78.6543736268941
COURSE_SEED = 42
_GZIP_MAGIC = b"\x1f\x8b"
_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class MnistError(RuntimeError):
    """MNIST could not be read or fetched (the message says why and what to do)."""


@dataclass(frozen=True)
class MnistData:
    """Raw MNIST: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "mnist"   # "mnist" (the full set) or the name of a subset
    source: str = ""      # where it came from, in words


def parse_idx(data: bytes) -> np.ndarray:
    """An IDX file (optionally gzipped) as a numpy array in native byte order.

    Layout (big-endian): two zero bytes, a type code, the number of dimensions,
    one uint32 per dimension, the data. Anything else is a ``ValueError``.
    """
    data = bytes(data)
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ValueError(f"IDX: corrupt or truncated gzip data ({error})") from error
    if len(data) < 4:
        raise ValueError(f"IDX: truncated header: {len(data)} bytes, need at least 4")
    if data[0] or data[1]:
        raise ValueError(f"IDX: bad magic number 0x{data[:4].hex()}: the first two bytes must "
                         "be zero (not an IDX file?)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"IDX: unknown data type code 0x{code:02x} in magic number "
                         f"0x{data[:4].hex()}")
    if ndim == 0:
        raise ValueError("IDX: bad magic number: zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"IDX: truncated header: {len(data)} bytes, need {header} for {ndim} "
                         "dimensions")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected, got = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, len(data) - header
    if got < expected:
        raise ValueError(f"IDX: truncated data: shape {shape} needs {expected} bytes, only {got} "
                         "present")
    if got > expected:
        raise ValueError(f"IDX: {got - expected} unexpected trailing bytes after data of shape "
                         f"{shape}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="), copy=True)


def find_idx_file(root: Path, gz_name: str) -> Path | None:
    """``gz_name`` or its uncompressed twin in ``root`` (or torchvision's folders there)."""
    plain = gz_name[:-len(".gz")]
    for folder in (root, root / "MNIST" / "raw", root / "raw"):
        for candidate in (folder / plain, folder / gz_name):
            if candidate.is_file():
                return candidate
    return None


def default_dir() -> Path:
    """``$MNIST_DIR``, else ``mnist/`` next to this file."""
    return Path(os.environ.get("MNIST_DIR") or Path(__file__).resolve().with_name("mnist"))


def mirrors() -> list[str]:
    value = os.environ.get("MNIST_MIRRORS", "")
    return [url.strip() for url in value.split(",") if url.strip()] or list(DEFAULT_MIRRORS)


def download(directory: Path, mirror_list: list[str] | None = None, progress: bool = True,
             errors: list[str] | None = None, checksums: dict[str, str] = MNIST_SHA256) -> None:
    """Fetch the four gz files into ``directory``; each is kept only if its SHA-256 is the
    official one. Every failure (network, wrong checksum) is added to ``errors`` and the
    next mirror is tried."""
    try:
        import pooch
    except ImportError:
        raise MnistError(f"MNIST is not in {directory}: put the four files {', '.join(MNIST_FILES.values())} "
                         f"there (from {DEFAULT_MIRRORS[0]}), set MNIST_DIR, or `pip install "
                         "pooch` to download them automatically") from None
    errors = [] if errors is None else errors
    for gz_name in MNIST_FILES.values():
        if find_idx_file(directory, gz_name):
            continue
        for mirror in mirror_list or mirrors():
            try:
                pooch.retrieve(mirror.rstrip("/") + "/" + gz_name,
                               known_hash=f"sha256:{checksums[gz_name]}", fname=gz_name,
                               path=directory, progressbar=progress)
                break
            except Exception as error:  # noqa: BLE001 - network errors and checksum mismatches
                errors.append(f"{gz_name} from {mirror}: {type(error).__name__}: {error}")
        else:
            raise MnistError(f"{gz_name} could not be downloaded: " + " | ".join(errors))


def read_directory(root: Path) -> dict[str, np.ndarray]:
    """The four arrays (by key of ``MNIST_FILES``) of a directory of IDX files."""
    arrays = {}
    for key, gz_name in MNIST_FILES.items():
        found = find_idx_file(root, gz_name)
        if found is None:
            raise MnistError(f"MNIST directory {root}: neither {gz_name[:-3]} nor {gz_name} "
                             "found")
        try:
            arrays[key] = parse_idx(found.read_bytes())
        except ValueError as error:
            raise MnistError(f"{found}: {error}") from None
    return arrays


def load_mnist(directory: Path | str | None = None, fetch: bool = True) -> MnistData:
    """MNIST from ``directory`` (default: ``default_dir()``), downloaded there first if
    files are missing and ``fetch``."""
    root = Path(directory) if directory is not None else default_dir()
    if fetch and not all(find_idx_file(root, name) for name in MNIST_FILES.values()):
        root.mkdir(parents=True, exist_ok=True)
        download(root)
    arrays = read_directory(root)
    return MnistData(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                     arrays["test_labels"], source=f"directory {root}")


class CourseData(NamedTuple):
    """Preprocessed arrays: x_* (n, 784) float64, y_* one-hot (n, 10) float64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray | None


def one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}")
    out = np.zeros((labels.shape[0], num_classes), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels.astype(np.int64)] = 1.0
    return out


def preprocess_course(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      y_test: np.ndarray | None = None) -> CourseData:
    """Exactly as the course does: seeds ``random`` and ``np.random`` with 42, flattens to
    (n, 784) float64 standardised by the course's mean and deviation, one-hot labels, and
    the FIRST 20% (``n // 5``) of the training data as the validation set (no shuffling)."""
    random.seed(COURSE_SEED)
    np.random.seed(COURSE_SEED)

    def flat(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        return (x.reshape(x.shape[0], -1).astype(np.float64) - COURSE_MEAN) / COURSE_STD

    train, test = flat(x_train), flat(x_test)
    if train.shape[1] != 784 or test.shape[1] != 784:
        raise ValueError(f"images must have 784 pixels, got {train.shape[1]} / {test.shape[1]}")
    labels = one_hot(np.asarray(y_train))
    if labels.shape[0] != train.shape[0]:
        raise ValueError("x_train and y_train differ in length")
    n_valid = train.shape[0] // 5
    return CourseData(x_train=train[n_valid:], y_train=labels[n_valid:], x_valid=train[:n_valid],
                      y_valid=labels[:n_valid], x_test=test,
                      y_test=None if y_test is None else one_hot(np.asarray(y_test)))
