"""Finding the processes a grading started, to check that none outlives it."""
from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Between a box's processes and the grading that started them: bubblewrap, and the shim of a
# container (its processes are the engine's children, never the grader's). ``comm`` prefixes.
BOX_MACHINERY = ("bwrap", "containerd-shim")
CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of a process's start time in /proc


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


@dataclass(frozen=True)
class Process:
    pid: int
    parent: int
    uid: int
    state: str
    name: str
    namespace_pids: tuple[int, ...]  # its pid in each pid namespace, the host's first
    started: float  # seconds after boot (``uptime``)


def uptime() -> float:
    """Seconds since boot: what a process's ``started`` is measured in."""
    return float(Path("/proc/uptime").read_text().split()[0])


def processes() -> dict[int, Process]:
    """Every process, from ``/proc/<pid>/status`` (the real uid: ``/proc/<pid>`` of a process
    that is not dumpable, as a box's supervisor, belongs to root) and ``stat``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in
                          (entry / "status").read_text().splitlines() if ":" in line)
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = Process(
                int(entry.name), int(status["PPid"]), int(status["Uid"].split()[0]),
                status["State"].split()[0], status["Name"].strip(),
                tuple(int(pid) for pid in status.get("NSpid", entry.name).split()),
                int(stat[19]) / CLOCK_TICKS)
        except (OSError, KeyError, ValueError, IndexError):  # it ended meanwhile
            continue
    return found


def _lineage(pid: int, table: dict[int, Process]) -> list[int]:
    """``pid``'s parent, its parent's parent, ... up to init."""
    chain = []
    while pid in table and table[pid].parent not in (0, pid) and len(chain) < 1000:
        pid = table[pid].parent
        chain.append(pid)
    return chain


def _container_of(pid: int) -> str | None:
    try:
        found = CONTAINER_ID.search(Path(f"/proc/{pid}/cgroup").read_text())
    except OSError:
        return None
    return found.group(0) if found else None


def _container_grader_runs(container: str) -> bool:
    """Whether the grader that made ``container`` (its label says which) still runs."""
    from docker.errors import DockerException

    from grader.boxes.docker import GRADER_LABEL, docker_client, running

    try:
        labels = docker_client(timeout=20).api.inspect_container(container)["Config"]["Labels"]
    except (DockerException, KeyError, TypeError):
        return False
    host, _, pid = (labels or {}).get(GRADER_LABEL, "").partition(":")
    return host == socket.gethostname() and pid.isdigit() and running(int(pid))


def held_by_a_live_grading(pid: int, uids: set[int], table: dict[int, Process]) -> bool:
    """Whether a grading still running holds process ``pid`` (a process of a box's ``uids``).

    Going up its parents past the box's own processes (of ``uids``) and the box machinery
    (bubblewrap, a container's shim) leads either to a live process that started the box (a
    grader, a test process grading in-process) or, for what outlived its grading, to where the
    kernel re-parents orphans: init or a subreaper above this test process. A container's
    processes are the engine's: its label names the grader that made it."""
    neutral = {0, 1, 2, *_lineage(os.getpid(), table)}  # not os.getpid(): it grades too
    through_shim = False
    for ancestor in _lineage(pid, table):
        process = table.get(ancestor)
        if ancestor in neutral or process is None:  # None: it ended, the kernel re-parents
            break
        if process.name.startswith(BOX_MACHINERY[1]):
            through_shim = True
        elif process.uid not in uids and not process.name.startswith(BOX_MACHINERY[0]):
            return True
    if through_shim and (container := _container_of(pid)) is not None:
        return _container_grader_runs(container)
    return False


def left_behind(uids: set[int] | range, since: float = 0.0) -> list[str]:
    """Live processes of ``uids`` started ``since`` (seconds after boot, ``uptime()``) that no
    running grading holds (``held_by_a_live_grading``): what a grading that ended left. Another
    grading of the machine holding one of these uids now (uids are handed out again as soon as
    they are free) is not counted."""
    uids, found, table = set(uids), None, {}
    for _ in range(2):  # a process whose parent ended while /proc was read looks orphaned once
        table = processes()
        now = {process.pid for process in table.values()
               if process.uid in uids and process.state != "Z" and process.pid != os.getpid()
               and process.started >= since - 1.0  # start times count in 1/100 s: a margin
               and not held_by_a_live_grading(process.pid, uids, table)}
        found = now if found is None else found & now
        if not found:
            break
    return [f"pid {pid} uid {table[pid].uid} {table[pid].name}" for pid in sorted(found)
            if pid in table]


def box_init(process: Process) -> bool:
    """Whether ``process`` is the first of a pid namespace: a box's supervisor."""
    return len(process.namespace_pids) > 1 and process.namespace_pids[-1] == 1 and \
        not process.name.startswith(BOX_MACHINERY)


def below(pid: int, table: dict[int, Process]) -> set[int]:
    """The descendants of ``pid`` in ``table``."""
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child.pid for child in table.values() if child.parent in frontier} - found
        found |= frontier
    return found


def grading_processes(grader: int, table: dict[int, Process], containers: bool = False
                      ) -> set[int]:
    """The processes of the grading whose grader is ``grader``: its descendants and, with
    ``containers``, those of the containers it made (the engine's children, not its own)."""
    found = below(grader, table)
    if containers:
        from grader.boxes.docker import CONTAINER_LABEL, GRADER_LABEL, docker_client

        owner = f"{socket.gethostname()}:{grader}"
        made = {container["Id"] for container in docker_client(timeout=20).api.containers(
            filters={"label": CONTAINER_LABEL}) if (container.get("Labels") or {}).get(
                GRADER_LABEL) == owner}
        found |= {pid for pid in table if made and _container_of(pid) in made}
    return found
