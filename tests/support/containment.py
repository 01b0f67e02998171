"""After a hostile grading: nothing of it may be left on the host.

``HostState`` is taken before; ``assert_nothing_left`` then checks processes
(of the box's uids, or named with the attack's token), System V IPC objects,
kernel keys, the grader's cgroups and files named with the token in every
world-writable place.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import uid_processes

SCRATCH_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue", "/run/shm")
CGROUP_PARENTS = ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpuacct",
                  "/sys/fs/cgroup")


def _ipc_objects() -> set[str]:
    found = set()
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        found |= {f"{kind} {' '.join(line.split()[:2])}" for line in lines}
    return found


def _key_users() -> set[str]:
    try:
        return {line.split(":")[0].strip() for line in Path("/proc/key-users").read_text().splitlines()}
    except OSError:
        return set()


def _grader_cgroups() -> set[str]:
    found = set()
    for parent in CGROUP_PARENTS:
        for group in Path(parent).rglob("nn-grader/box-*") if Path(parent).is_dir() else []:
            found.add(str(group))
    return found


def _process_names(token: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            comm = (entry / "comm").read_text().strip()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if token[:15] in comm or token in command:
            found.append(f"pid {entry.name} {comm}: {command[:120]}")
    return found


@dataclass
class HostState:
    ipc: set[str]
    key_users: set[str]
    cgroups: set[str]

    @classmethod
    def now(cls) -> HostState:
        return cls(_ipc_objects(), _key_users(), _grader_cgroups())


def assert_nothing_left(before: HostState, token: str, uids: range | set[int]) -> None:
    deadline = time.monotonic() + 5  # a zombie may wait a moment for its reaper
    while True:
        left = {"processes of the box's uids": uid_processes(uids),
                "processes with the token": _process_names(token),
                "System V IPC objects": sorted(_ipc_objects() - before.ipc),
                "users with kernel keys": sorted(_key_users() - before.key_users),
                "cgroups": sorted(_grader_cgroups() - before.cgroups),
                "files": [f"{place}/{token}" for place in SCRATCH_PLACES
                          if Path(place, token).exists()]}
        left = {what: items for what, items in left.items() if items}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, f"left on the host: {left}"
