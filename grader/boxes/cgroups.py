"""One control group per box: memory and processes counted as the kernel counts them.

Unlike ``RLIMIT_AS``, a memory cgroup also counts shared memory, ``memfd``
files and the box's tmpfs pages, and its OOM killer answers for them; a pids
cgroup counts every process and thread of the box, whatever its uid. Both
cgroup v1 (a hierarchy per controller, as on this project's machines) and v2
(one unified hierarchy) are handled. Creating groups needs root (or a
delegated hierarchy); where that fails the caller falls back to rlimits and
the report says so.
"""
from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP_PREFIX = "nn-grader"
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
_counter = itertools.count()


class CgroupUnavailable(Exception):
    """No group can be made here (the reason is the message)."""


@dataclass
class CgroupUsage:
    cpu_seconds: float | None
    memory_peak_mb: float | None
    oom_kills: int


def _write(path: Path, value: str) -> None:
    with open(path, "w") as stream:
        stream.write(value)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path) -> dict[str, int]:
    """``key value`` lines (memory.events, cpu.stat, memory.oom_control)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    return {key: int(value) for key, value in (line.split() for line in lines if line.count(" ") == 1)
            if value.isdigit()}


def _own_paths(pid: int | str = "self") -> dict[str, str]:
    """A process's cgroup per v1 controller (``""`` for the v2 hierarchy)."""
    paths = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _name() -> str:
    return f"box-{os.getpid()}-{next(_counter)}-{time.monotonic_ns() % 10**6}"


def _stale(directory: Path) -> bool:
    """A group left by a grader that is gone (``box-<pid>-...`` of a dead pid)."""
    parts = directory.name.split("-")
    return len(parts) > 2 and parts[1].isdigit() and not Path(f"/proc/{parts[1]}").exists()


class Cgroup:
    """A box's group(s): limits, membership, usage, killing everything, removal."""

    def __init__(self, version: int, directories: dict[str, Path]):
        self.version, self.directories = version, directories

    # -- creation
    @classmethod
    def of_process(cls, pid: int) -> Cgroup | None:
        """The groups a process is in (a container's, say), to read their usage; None when
        they cannot be found."""
        try:
            paths = _own_paths(pid)
        except OSError:
            return None
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            return cls(2, {"": CGROUP_ROOT / paths.get("", "/").lstrip("/")})
        directories = {controller: CGROUP_ROOT / controller / paths[controller].lstrip("/")
                       for controller in V1_CONTROLLERS if controller in paths}
        return cls(1, directories) if len(directories) == len(V1_CONTROLLERS) else None

    @classmethod
    def create(cls) -> Cgroup:
        """A new, empty group; ``limit`` sets its limits."""
        if os.geteuid() != 0:
            raise CgroupUnavailable("not root: cgroups cannot be created")
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            return cls._create_v2()
        return cls._create_v1()

    @classmethod
    def _parent(cls, directory: Path) -> Path:
        parent = directory / GROUP_PREFIX
        parent.mkdir(exist_ok=True)
        for old in parent.iterdir():
            if old.is_dir() and _stale(old):
                Cgroup(1, {"": old}).kill_all()
                try:
                    old.rmdir()
                except OSError:
                    pass
        return parent

    @classmethod
    def _create_v1(cls) -> Cgroup:
        own, directories, name = _own_paths(), {}, _name()
        try:
            for controller in V1_CONTROLLERS:
                mount = CGROUP_ROOT / controller
                if not (mount / "cgroup.procs").exists():
                    raise CgroupUnavailable(f"no cgroup v1 '{controller}' hierarchy at {mount}")
                base = mount / own.get(controller, "/").lstrip("/")
                directory = cls._parent(base) / name
                directory.mkdir()
                directories[controller] = directory
        except OSError as error:
            Cgroup(1, directories).remove()
            raise CgroupUnavailable(f"cannot create a cgroup: {error}") from None
        except CgroupUnavailable:
            Cgroup(1, directories).remove()
            raise
        return cls(1, directories)

    @classmethod
    def _create_v2(cls) -> Cgroup:
        try:
            available = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
            if not {"memory", "pids"} <= set(available):
                raise CgroupUnavailable(f"cgroup v2 without the memory and pids controllers "
                                        f"({' '.join(available) or 'none'})")
            parent = cls._parent(CGROUP_ROOT)
            wanted = [c for c in ("memory", "pids", "cpu") if c in available]
            _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))
            directory = parent / _name()
            directory.mkdir()
        except OSError as error:
            raise CgroupUnavailable(f"cannot create a cgroup: {error}") from None
        return cls(2, {"": directory})

    def limit(self, memory_mb: int, max_processes: int) -> None:
        """At most ``memory_mb`` of memory (no swap) and ``max_processes`` processes and
        threads, for every member together."""
        limit = str(memory_mb << 20)
        if self.version == 1:
            memory = self.directories["memory"]
            _write(memory / "memory.limit_in_bytes", limit)
            if (memory / "memory.memsw.limit_in_bytes").exists():
                _write(memory / "memory.memsw.limit_in_bytes", limit)
            _write(self.directories["pids"] / "pids.max", str(max_processes))
        else:
            directory = self.directories[""]
            _write(directory / "memory.max", limit)
            if (directory / "memory.swap.max").exists():
                _write(directory / "memory.swap.max", "0")
            _write(directory / "pids.max", str(max_processes))

    # -- use
    def add(self, pid: int) -> None:
        for directory in self.directories.values():
            _write(directory / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in self.directories.values():
            try:
                found |= {int(pid) for pid in (directory / "cgroup.procs").read_text().split()}
            except OSError:
                continue
        return sorted(found)

    def kill_all(self, seconds: float = 5.0) -> None:
        """SIGKILL every member until none is left (``cgroup.kill`` where the kernel has it)."""
        kill_file = self.directories.get("", Path("/nonexistent")) / "cgroup.kill"
        deadline = time.monotonic() + seconds
        while (members := self.pids()) and time.monotonic() < deadline:
            if self.version == 2 and kill_file.exists():
                _write(kill_file, "1")
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)

    def usage(self) -> CgroupUsage:
        if self.version == 1:
            # a group half made (creation failed midway) lacks some controllers
            memory, cpuacct = self.directories.get("memory"), self.directories.get("cpuacct")
            nanoseconds = _read_int(cpuacct / "cpuacct.usage") if cpuacct else None
            peak = _read_int(memory / "memory.max_usage_in_bytes") if memory else None
            oom = _keyed(memory / "memory.oom_control").get("oom_kill", 0) if memory else 0
            cpu = None if nanoseconds is None else nanoseconds / 1e9
        else:
            directory = self.directories[""]
            usec = _keyed(directory / "cpu.stat").get("usage_usec")
            peak = _read_int(directory / "memory.peak")
            oom = _keyed(directory / "memory.events").get("oom_kill", 0)
            cpu = None if usec is None else usec / 1e6
        return CgroupUsage(cpu_seconds=cpu, oom_kills=oom,
                           memory_peak_mb=None if peak is None else round(peak / (1 << 20), 1))

    def remove(self) -> CgroupUsage:
        """Kill what is left, read the usage, remove the group (it must be empty for that)."""
        self.kill_all()
        usage = self.usage()
        for directory in self.directories.values():
            for _ in range(100):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # members still exiting
                    time.sleep(0.01)
        return usage

    def describe(self) -> str:
        return f"cgroup v{self.version} per box: memory (no swap), processes, CPU time"
