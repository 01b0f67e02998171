"""After a hostile grading: nothing of it may be left on the host.

``HostState`` is taken before; ``assert_nothing_left`` then checks what THIS grading made,
never what another grading of the machine holds at that moment (courses grade on shared
machines): processes of the uid the grading used (from its report), started since, that no
running grading holds (``tests.support.processes.left_behind``: uids are handed out again as
soon as they are free) or named with the attack's token, System V IPC objects made since by
that uid or with the attack's keys, kernel keys of that uid, cgroups and containers named
after the grader's pid, and files named with the token (or starting with it) in every
world-writable place.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import left_behind, uptime

SCRATCH_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue", "/run/shm")
CGROUP_PARENTS = ("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/cpuacct",
                  "/sys/fs/cgroup")
# Killed processes of a box may take a moment to be gone (a SIGKILL is delivered at the next
# scheduling of its target: seconds on a busy machine); nothing left waits no time at all.
SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class IpcObject:
    kind: str  # shm, msg or sem
    key: int
    id: int
    creator_uid: int
    creator_pid: int | None  # shared memory only

    def __str__(self) -> str:
        return f"{self.kind} key {self.key:#x} id {self.id} cuid {self.creator_uid}"


def _ipc_objects() -> set[IpcObject]:
    found = set()
    for kind in ("shm", "msg", "sem"):
        try:
            header, *lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        names = header.split()
        for line in lines:
            row = dict(zip(names, line.split()))
            found.add(IpcObject(kind, int(row["key"]), int(row[names[1]]), int(row["cuid"]),
                                int(row["cpid"]) if "cpid" in row else None))
    return found


def _key_users() -> set[int]:
    try:
        lines = Path("/proc/key-users").read_text().splitlines()
        return {int(line.split(":")[0]) for line in lines}
    except (OSError, ValueError):
        return set()


def _cgroups_of(graders: set[int]) -> list[str]:
    """The box groups (``nn-grader/box-<grader pid>-...``) of these graders, wherever they are."""
    found = []
    for parent in CGROUP_PARENTS:
        if Path(parent).is_dir():
            found += [str(group) for pid in graders
                      for group in Path(parent).rglob(f"nn-grader/box-{pid}-*")]
    return sorted(set(found))


def _containers_of(graders: set[int]) -> list[str]:
    """The grading containers these graders made (their label names the grader)."""
    from grader.boxes.docker import CONTAINER_LABEL, GRADER_LABEL, docker_client

    owners = {f"{socket.gethostname()}:{pid}" for pid in graders}
    listed = docker_client(timeout=20).api.containers(all=True,
                                                      filters={"label": CONTAINER_LABEL})
    return [f"{container['Names']} {container['State']}" for container in listed
            if (container.get("Labels") or {}).get(GRADER_LABEL) in owners]


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
    ipc: set[IpcObject]
    key_users: set[int]
    uptime: float  # when it was taken: what started before is not the grading's

    @classmethod
    def now(cls) -> HostState:
        return cls(_ipc_objects(), _key_users(), uptime())


@dataclass(frozen=True)
class Made:
    """What one grading used: its grader process, the uids its boxes ran as, the token and
    the IPC keys its attack used, whether its boxes were containers."""

    graders: set[int]
    uids: set[int]
    token: str
    ipc_keys: set[int] = field(default_factory=set)
    containers: bool = False


def leftovers(before: HostState, made: Made) -> dict[str, list[str]]:
    new_ipc = _ipc_objects() - before.ipc
    left = {"processes of the grading's uids": left_behind(made.uids, since=before.uptime),
            "processes with the token": _process_names(made.token),
            "System V IPC objects": sorted(str(item) for item in new_ipc
                                           if item.key in made.ipc_keys
                                           or item.creator_uid in made.uids
                                           or item.creator_pid in made.graders),
            "users with kernel keys": sorted((_key_users() - before.key_users) & made.uids),
            "cgroups": _cgroups_of(made.graders),
            "containers": _containers_of(made.graders) if made.containers else [],
            "files": sorted(str(path) for place in SCRATCH_PLACES
                            for path in Path(place).glob(f"{made.token}*"))}
    return {what: items for what, items in left.items() if items}


def assert_nothing_left(before: HostState, made: Made) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while (left := leftovers(before, made)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"left on the host by {made}: {left}"
