"""Small synthetic MNIST files for the tests: IDX encoding, arrays, checksum tables, a server."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from reference.mnist_data import MNIST_FILES, MnistData

IDX_CODES = {(np.dtype(np.uint8).kind, 1): 0x08, ("i", 1): 0x09, ("i", 2): 0x0B, ("i", 4): 0x0C,
             ("f", 4): 0x0D, ("f", 8): 0x0E}
COUNTS = (50, 20)


def to_idx(array: np.ndarray, compress: bool = False) -> bytes:
    """IDX bytes of ``array`` (the inverse of ``parse_idx``)."""
    array = np.asarray(array)
    code = IDX_CODES[(array.dtype.kind, array.dtype.itemsize)]
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    raw = head + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).tobytes()
    return gzip.compress(raw, mtime=0) if compress else raw


def make_arrays(seed: int = 1, counts: tuple[int, int] = COUNTS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"train_images": rng.integers(0, 256, size=(counts[0], 28, 28), dtype=np.uint8),
            "train_labels": (np.arange(counts[0]) % 10).astype(np.uint8),
            "test_images": rng.integers(0, 256, size=(counts[1], 28, 28), dtype=np.uint8),
            "test_labels": ((np.arange(counts[1]) * 3) % 10).astype(np.uint8)}


def as_data(arrays: dict[str, np.ndarray], name: str = "mnist", source: str = "test") -> MnistData:
    return MnistData(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                     arrays["test_labels"], name, source)


def gz_files(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    return {MNIST_FILES[key]: to_idx(arrays[key], compress=True) for key in MNIST_FILES}


def checksum_table(files: dict[str, bytes]) -> dict[str, str]:
    """SHA-256 of the gz files and of the IDX files inside, like the official table."""
    table = {name: hashlib.sha256(blob).hexdigest() for name, blob in files.items()}
    table.update({name[:-3]: hashlib.sha256(gzip.decompress(blob)).hexdigest()
                  for name, blob in files.items()})
    return table


def write_directory(folder: Path, arrays: dict[str, np.ndarray], gz_keys=()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, gz_name in MNIST_FILES.items():
        if key in gz_keys:
            (folder / gz_name).write_bytes(to_idx(arrays[key], compress=True))
        else:
            (folder / gz_name[:-3]).write_bytes(to_idx(arrays[key]))
    return folder


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def http_server(root: Path) -> Iterator[str]:
    """A loopback HTTP server of ``root``; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
