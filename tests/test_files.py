"""``grader.files``: a file is replaced whole or left as it was, and no temporary file stays."""
from __future__ import annotations

import pytest

from grader.files import atomic_stream, write_atomically


def test_write_replaces_the_file_readable_by_others(tmp_path):
    path = tmp_path / "deep" / "results.json"
    write_atomically(path, "old")
    assert write_atomically(path, "néw") == path
    assert path.read_text(encoding="utf-8") == "néw" and path.stat().st_mode & 0o777 == 0o644
    assert [found.name for found in path.parent.iterdir()] == ["results.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path):
    path = tmp_path / "train.npz"
    write_atomically(path, b"old")
    with pytest.raises(RuntimeError), atomic_stream(path, fsync=True) as stream:
        stream.write(b"half")
        raise RuntimeError("the disk is full")
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]
