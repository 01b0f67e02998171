"""Opening files that a submission could have tampered with.

A submission owns its output directory: it may have replaced a file (or a
directory on the way to it) by a symbolic link to something only the grader may
read, or by a named pipe that would block the grader forever. Files are
therefore opened one path component at a time, never through a link, and only
regular files of bounded size are accepted.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

NO_FOLLOW = os.O_RDONLY | os.O_NOFOLLOW


class UnreadableOutput(Exception):
    """The child's output cannot be trusted to be what the protocol says."""


def _reason(error: OSError) -> str:
    # O_NOFOLLOW refuses a link with ELOOP, or with ENOTDIR where a directory was asked for
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        return "it is a symbolic link or not what it should be"
    return error.strerror


@contextmanager
def open_regular(root: Path | int, parts: list[str], max_bytes: int) -> Iterator[BinaryIO]:
    """Open ``root/parts[0]/.../parts[-1]`` for reading: no links, a regular file, at most
    ``max_bytes``. ``root`` is trusted (a path or a directory descriptor).

    Raises ``FileNotFoundError`` when something on the way is absent and
    ``UnreadableOutput`` when something is not what it should be.
    """
    descriptors = []
    try:
        directory = root if isinstance(root, int) else os.open(root, NO_FOLLOW | os.O_DIRECTORY)
        if not isinstance(root, int):
            descriptors.append(directory)
        for part in parts[:-1]:
            try:
                directory = os.open(part, NO_FOLLOW | os.O_DIRECTORY, dir_fd=directory)
            except FileNotFoundError:
                raise
            except OSError as error:
                raise UnreadableOutput(f"{part}/ cannot be opened: {_reason(error)}") from None
            descriptors.append(directory)
        try:
            descriptor = os.open(parts[-1], NO_FOLLOW | os.O_NONBLOCK, dir_fd=directory)
        except FileNotFoundError:
            raise
        except OSError as error:
            raise UnreadableOutput(f"{parts[-1]} cannot be opened: {_reason(error)}") from None
        stream = os.fdopen(descriptor, "rb")
        with stream:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise UnreadableOutput(f"{parts[-1]} is not a regular file")
            if info.st_size > max_bytes:
                raise UnreadableOutput(f"{parts[-1]} is larger than {max_bytes} bytes")
            yield stream
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def read_regular(root: Path | int, parts: list[str], max_bytes: int) -> bytes | None:
    """The bytes of a file opened by ``open_regular``; None when it is absent."""
    try:
        with open_regular(root, parts, max_bytes) as stream:
            data = stream.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    if len(data) > max_bytes:  # grew after the check
        raise UnreadableOutput(f"{parts[-1]} is larger than {max_bytes} bytes")
    return data
