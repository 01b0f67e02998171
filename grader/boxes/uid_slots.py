"""A uid of its own for every grading running on this machine at the same moment.

Processes of one uid share ``RLIMIT_NPROC``, can signal each other and own
each other's files: two submissions graded at once must never share one. A
slot is an exclusive ``flock`` on a file of a private directory, held for the
whole grading (every box of it); the lock dies with the process
that holds it, so a killed grader frees its slot by itself. ``flock`` (unlike
``fcntl`` locks) also keeps threads of one process apart.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WAIT_STEP_SECONDS = 0.05


class NoFreeSlot(Exception):
    """Every uid of the range is in use by another grading."""


def lock_directory() -> Path:
    """Private to this host user: ``/run/nn-grader/uids`` for root, else under the temp dir."""
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        directory = Path("/run/nn-grader/uids")
    else:
        import tempfile  # not at import: an early box starts without it

        directory = Path(tempfile.gettempdir()) / f"nn-grader-uids-{os.geteuid()}"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise NoFreeSlot(f"{directory} is not private to this user; remove it")
    return directory


@contextmanager
def grading_uid(base: int, count: int, wait_seconds: float = 600.0) -> Iterator[int]:
    """Hold one uid of ``base .. base + count - 1`` that no other grading holds."""
    directory = lock_directory()
    deadline = time.monotonic() + wait_seconds
    while True:
        for slot in range(count):
            descriptor = os.open(directory / f"{base + slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                continue
            try:
                yield base + slot
            finally:
                os.close(descriptor)  # releases the lock
            return
        if time.monotonic() > deadline:
            raise NoFreeSlot(f"all {count} grading uids from {base} stayed in use for "
                             f"{wait_seconds:g} s")
        time.sleep(WAIT_STEP_SECONDS)
