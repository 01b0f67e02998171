"""The students' MNIST module: IDX files, the one-time download, the course's preprocessing."""
from __future__ import annotations

import ast
import gzip
import hashlib
import random
import sys

import numpy as np
import pytest

from reference import mnist_data as md
from tests.support.mnist_files import (
    COUNTS,
    checksum_table,
    gz_files,
    http_server,
    make_arrays,
    to_idx,
    write_directory,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("MNIST_MIRRORS", raising=False)


@pytest.mark.parametrize("array", [
    np.arange(24, dtype=np.uint8).reshape(2, 3, 4), np.array([-3, 5], dtype=np.int8),
    np.arange(-6, 6, dtype=np.int16).reshape(3, 4), np.arange(10, dtype=np.int32) * 100000,
    np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), np.linspace(-1, 1, 6)])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(array, compress):
    out = md.parse_idx(to_idx(array, compress))
    assert out.dtype == array.dtype and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_idx_header_is_mnists():
    assert int.from_bytes(to_idx(np.zeros((3, 28, 28), np.uint8))[:4], "big") == 2051
    assert int.from_bytes(to_idx(np.zeros(5, np.uint8))[:4], "big") == 2049


@pytest.mark.parametrize("blob, match", [
    (b"", "truncated header"), (b"\x00\x00\x08\x03\x00\x00", "truncated header"),
    (b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc", "bad magic"),
    (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "unknown data type"),
    (b"\x00\x00\x08\x00", "zero dimensions"),
    (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "truncated data"),
    (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"abc", "trailing"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
    (gzip.compress(to_idx(np.arange(1000, dtype=np.uint8))[:-10]), "truncated data"),
])
def test_idx_errors_say_what_is_wrong(blob, match):
    with pytest.raises(ValueError, match=match):
        md.parse_idx(blob)


def test_official_table_is_complete():
    for gz_name in md.MNIST_FILES.values():
        assert len(md.MNIST_SHA256[gz_name]) == len(md.MNIST_SHA256[gz_name[:-3]]) == 64
    assert len(set(md.MNIST_SHA256.values())) == 8


def test_the_module_needs_only_the_standard_library_and_numpy():
    """pooch is imported only for the download, where it is optional."""
    tree = ast.parse(open(md.__file__).read())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
           for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert top <= set(sys.stdlib_module_names) | {"numpy", "__future__"}, top


def test_a_directory_plain_gz_or_torchvision_layout(tmp_path, monkeypatch):
    arrays = make_arrays(2)
    write_directory(tmp_path / "plain", arrays, gz_keys=("train_images",))
    data = md.load_mnist(tmp_path / "plain", fetch=False)
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    write_directory(tmp_path / "tv" / "MNIST" / "raw", arrays)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "tv"))
    np.testing.assert_array_equal(md.load_mnist(fetch=False).x_test, arrays["test_images"])


def test_a_missing_file_is_named(tmp_path):
    write_directory(tmp_path, make_arrays())
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(md.MnistError, match="t10k-labels-idx1-ubyte"):
        md.load_mnist(tmp_path, fetch=False)


def test_download_keeps_only_files_with_the_official_checksum(tmp_path):
    """Mirrors: one that is down, one serving a corrupted file, a good one."""
    arrays, www = make_arrays(3), tmp_path / "www"
    files = gz_files(arrays)
    for mirror in ("bad", "good"):
        (www / mirror).mkdir(parents=True)
        for name, blob in files.items():
            (www / mirror / name).write_bytes(blob)
    corrupted = bytearray(files["train-images-idx3-ubyte.gz"])
    corrupted[len(corrupted) // 2] ^= 0xFF
    (www / "bad" / "train-images-idx3-ubyte.gz").write_bytes(bytes(corrupted))
    errors: list[str] = []
    with http_server(www) as base:
        md.download(tmp_path / "data", ["http://127.0.0.1:9/", f"{base}/bad/", f"{base}/good/"],
                    progress=False, errors=errors, checksums=checksum_table(files))
    data = md.load_mnist(tmp_path / "data", fetch=False)
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    assert any("train-images-idx3-ubyte.gz from" in error and "/bad/" in error and "hash"
               in error.lower() for error in errors), errors
    assert hashlib.sha256((tmp_path / "data" / "train-images-idx3-ubyte.gz").read_bytes()
                          ).hexdigest() == checksum_table(files)["train-images-idx3-ubyte.gz"]


def test_download_that_fails_everywhere_says_so(tmp_path):
    with pytest.raises(md.MnistError, match="could not be downloaded"):
        md.download(tmp_path, ["http://127.0.0.1:9/"], progress=False)


def test_mirrors_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_MIRRORS", " http://a/ , http://b/,")
    assert md.mirrors() == ["http://a/", "http://b/"]
    monkeypatch.delenv("MNIST_MIRRORS")
    assert md.mirrors() == list(md.DEFAULT_MIRRORS)


def test_preprocessing_is_the_courses():
    arrays, (n_train, n_test) = make_arrays(12), COUNTS
    random.seed(0)
    np.random.seed(0)
    out = md.preprocess_course(arrays["train_images"], arrays["train_labels"],
                               arrays["test_images"], arrays["test_labels"])
    n_valid = n_train // 5
    assert out.x_valid.shape == (n_valid, 784) and out.y_train.shape == (n_train - n_valid, 10)
    assert out.x_test.shape == (n_test, 784) and out.y_test.shape == (n_test, 10)
    flat = arrays["train_images"].reshape(n_train, 784).astype(np.float64)
    expected = (flat - 33.385964741253645) / 78.6543736268941
    np.testing.assert_array_equal(out.x_valid, expected[:n_valid])  # the FIRST 20%
    np.testing.assert_array_equal(out.x_train, expected[n_valid:])
    np.testing.assert_array_equal(out.y_train.argmax(1), arrays["train_labels"][n_valid:])
    assert np.random.rand() == np.random.RandomState(42).rand()
    assert random.random() == random.Random(42).random()
    assert md.preprocess_course(arrays["train_images"], arrays["train_labels"],
                                arrays["test_images"]).y_test is None
    with pytest.raises(ValueError):
        md.one_hot(np.array([10]))
