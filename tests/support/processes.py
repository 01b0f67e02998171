"""Finding the processes a grading started, to check that none outlives it."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path


def _stats() -> Iterator[tuple[int, list[str]]]:
    """Every process and the fields of its ``/proc/<pid>/stat`` after the command name."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue


def parents() -> dict[int, int]:
    """Every live process and its parent."""
    return {pid: int(fields[1]) for pid, fields in _stats()}


def in_group(group: int) -> set[int]:
    """Every process of the process group ``group``, zombies included."""
    return {pid for pid, fields in _stats() if int(fields[2]) == group}


def descendants(pid: int) -> set[int]:
    table, found, frontier = parents(), set(), {pid}
    while frontier:
        frontier = {child for child, parent in table.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def wait_until_gone(pids: set[int], seconds: float = 10.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def wait_for_descendants(pid: int, count: int, seconds: float = 30.0) -> set[int]:
    """The descendants of ``pid`` once there are at least ``count`` of them."""
    deadline = time.monotonic() + seconds
    while len(found := descendants(pid)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def uid_processes(uids: range) -> list[str]:
    """Live processes owned by one of ``uids``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid = next((int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("Uid:")), None)
        state = next((line.split()[1] for line in status.splitlines()
                      if line.startswith("State:")), "")
        if uid in uids and state != "Z" and entry.name != str(os.getpid()):
            found.append(f"pid {entry.name} uid {uid}")
    return found
