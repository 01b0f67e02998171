"""What every kind of box offers the grading session: start, streams, kill, how it ended.

A box runs ``python -c <bootstrap>`` with nothing of the host but the
interpreter and its libraries, reads the bundle on stdin and answers with
frames on stdout (``grader.boxes.protocol``). The kinds differ only in how they
isolate: bubblewrap namespaces, a Docker container, or nothing (trusted code).
"""
from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import json
import marshal
import os
import queue
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.boxes import protocol
from grader.boxes.protocol import BoxRequest
from grader.paths import GRADER_DIR, REFERENCE_DIR

BOXES_DIR = Path(__file__).resolve().parent
BOOTSTRAP_SOURCE = (BOXES_DIR / "bootstrap.py").read_text(encoding="utf-8")
RUNTIME_SOURCES = {"grader/boxes/protocol.py": BOXES_DIR / "protocol.py",
                   "grader/boxes/supervisor.py": BOXES_DIR / "supervisor.py",
                   "grader/boxes/process_watch.py": BOXES_DIR / "process_watch.py",
                   "interface.py": REFERENCE_DIR / "interface.py",
                   "common.py": REFERENCE_DIR / "common.py"}
BOX_DATA_DIR = "/box/data"  # where a box mounts its read-only data files, each by its role
STDOUT, STDERR = "stdout", "stderr"
UNCHECKED_HASH_PYC = 0b01  # a .pyc's flags: hash-based, source not checked


@functools.cache
def runtime_files(extra: tuple[tuple[str, Path], ...] = ()) -> dict[str, bytes]:
    """The supervisor and the course framework, with the ``extra`` modules of the sections
    (path in the runtime, host file: their runs' entry points), by path in the box (the
    trusted copies), each with its bytecode: the box does not compile them for every grading
    (a Python of another version ignores bytecode that is not its own and compiles the
    source). A package folder gets an empty ``__init__.py``: nothing of the host's."""
    files = {}
    for name, path in (*RUNTIME_SOURCES.items(), *extra):
        box_path = f"{protocol.RUNTIME_SUBDIR}/{name}"
        for package in PurePosixPath(name).parents[:-1]:
            files[f"{protocol.RUNTIME_SUBDIR}/{package}/__init__.py"] = b""
        files[box_path] = source = path.read_bytes()
        files[importlib.util.cache_from_source(box_path)] = bytecode(path, source)
    return files


def runtime_module(name: str) -> tuple[str, Path]:
    """A module of the grader as a runtime file: (its path in the runtime, its host file);
    ``ValueError`` for a name that is not a module of the grader."""
    parts = name.split(".")
    path = GRADER_DIR.joinpath(*parts[1:]).with_suffix(".py")
    if parts[0] != "grader" or len(parts) < 2 or not all(part.isidentifier() for part in parts) \
            or not path.is_file():
        raise ValueError(f"{name!r} is not a module of the grader")
    return "/".join(parts) + ".py", path


def bytecode(path: Path, source: bytes) -> bytes:
    """The code of ``path`` (from this Python's own bytecode cache, as an import takes it) as
    an unchecked hash-based ``.pyc`` (PEP 552): the box's loader takes it without comparing
    time stamps, which the bootstrap's copies do not keep (and names it where it is)."""
    code = importlib.machinery.SourceFileLoader(path.stem, str(path)).get_code(path.stem)
    return importlib.util.MAGIC_NUMBER + UNCHECKED_HASH_PYC.to_bytes(4, "little") + \
        importlib.util.source_hash(source) + marshal.dumps(code)


def queued_chunks(chunks: queue.Queue[tuple[str, bytes]], timeout: float
                  ) -> list[tuple[str, bytes]]:
    """What a reading thread queued: the first chunk within ``timeout``, then all that is
    there (boxes whose streams a thread reads, for ``RunningBox.read``)."""
    try:
        found = [chunks.get(timeout=max(timeout, 0.0))]
    except queue.Empty:
        return []
    while True:
        try:
            found.append(chunks.get_nowait())
        except queue.Empty:
            return found


class BoxUnavailable(Exception):
    """This kind of box cannot run here; the message says how to make it work."""


@dataclass(frozen=True)
class BoxShape:
    """What a box is started with and keeps. Its limits, its request and its files come
    later, before the submission does: a box can start (and load numpy) while the grader is
    still loading and reading the cases."""

    blas_threads: int
    scratch_mb: int                    # size of the box's /tmp (and of /dev/shm)
    uid: int | None = None             # the grading's own uid (root hosts, containers)
    data_files: tuple[tuple[str, Path], ...] = ()  # read-only data: (role, host file)
    packages: tuple[str, ...] = ()     # what solution.py may import besides numpy

    def data_paths(self, directory: str | None) -> dict[str, str]:
        """Where each data file is in a box that holds them under ``directory`` (None: where
        they are on the host), by role: what the supervisor is told."""
        return {role: str(path) if directory is None else f"{directory}/{role}{path.suffix}"
                for role, path in self.data_files}

    def environment(self) -> dict[str, str]:
        """The box's whole environment: BLAS threads are fixed before numpy is imported."""
        threads = str(self.blas_threads)
        return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp/work",
                "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
                "MKL_NUM_THREADS": threads, "NUMEXPR_NUM_THREADS": threads,
                **{key: os.environ[key] for key in ("OPENBLAS_CORETYPE",) if key in os.environ}}


@dataclass
class BoxExit:
    """How a box ended and what it consumed, measured outside it."""

    returncode: int | None
    cpu_seconds: float | None = None
    memory_peak_mb: float | None = None
    oom_kills: int = 0
    killed_by_host: bool = False


@dataclass
class Isolation:
    """What a box kind guarantees, for the report."""

    box: str                           # bwrap, docker, in-container or none
    network_cut: bool = True
    secrets_hidden: bool = True
    uid: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BoxLimits:
    """The whole box, counted by the kernel where it can be (a cgroup), else per process."""

    memory_mb: int
    max_processes: int


def bundle(request: BoxRequest, files: dict[str, bytes]) -> bytes:
    """What a box reads on stdin (``grader.boxes.protocol``)."""
    encoded = json.dumps(protocol.to_dict(request)).encode()
    return protocol.encode_bundle({**files, protocol.REQUEST_FILE: encoded})


class RunningBox(ABC):
    """A started box: its output streams, its stdin, and its end."""

    shape: BoxShape
    resources: str = ""  # how memory and processes are limited in this box, for the report
    started: float       # time.monotonic() when it was started: its deadlines count from here
    fed: dict[str, bytes] | None = None  # what was sent: "" the first bundle, then by visibility
    fed_limits: BoxLimits | None = None

    @abstractmethod
    def complete(self, request: BoxRequest, limits: BoxLimits) -> BoxRequest:
        """Put ``limits`` in force and return ``request`` as this box must receive it (before
        it is sent: nothing of the submission has run yet)."""

    def feed(self, request: BoxRequest, limits: BoxLimits, files: dict[str, bytes]) -> None:
        """Put ``limits`` in force and send the first bundle, once (an early box is fed before
        the grading knows what it needs: ``fed_otherwise`` tells whether that was right)."""
        if self.fed is None:
            data = bundle(self.complete(request, limits), files)
            self.send(data)
            self.fed, self.fed_limits = {"": data}, limits

    def send_later(self, visibility: str, files: dict[str, bytes]) -> None:
        """Send the ``visibility`` inputs the box asked for, once."""
        if self.fed is not None and visibility not in self.fed:
            self.fed[visibility] = data = protocol.encode_bundle(files)
            self.send(data)

    def fed_otherwise(self, request: BoxRequest, limits: BoxLimits, files: dict[str, bytes],
                      later_files: dict[str, dict[str, bytes]]) -> bool:
        """Whether the box was already sent something else than this would send."""
        if self.fed is None:
            return False
        if self.fed_limits != limits or self.fed[""] != bundle(self.complete(request, limits),
                                                               files):
            return True
        return any(visibility not in later_files or
                   data != protocol.encode_bundle(later_files[visibility])
                   for visibility, data in self.fed.items() if visibility)

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Write ``data`` to the box's stdin from a background thread (never blocks the caller)."""

    @abstractmethod
    def read(self, timeout: float) -> list[tuple[str, bytes]]:
        """Chunks of (STDOUT or STDERR, bytes) within ``timeout``; an empty chunk means that
        stream ended."""

    @abstractmethod
    def kill(self) -> None:
        """Kill everything in the box now."""

    def oom_kills(self) -> int:
        """Processes the kernel killed so far for the box's memory limit (0 when unknown)."""
        return 0

    def cpu_seconds(self) -> float | None:
        """CPU time of every process of the box so far, when the kernel tells it (a cgroup)."""
        return None

    @abstractmethod
    def finish(self, timeout: float) -> BoxExit:
        """Wait at most ``timeout`` for the end (killing after it), clean up, say how it ended."""

    def discard(self) -> None:
        """Kill it and clean up: nothing it did is read."""
        self.kill()
        self.finish(0)


class Box(ABC):
    """A kind of box, chosen by name (``grader.boxes.BOXES``)."""

    name: str

    @classmethod
    def from_config(cls, options, config) -> Box:
        """The box for a grading's options and configuration."""
        return cls()

    @abstractmethod
    def isolation(self, uid: int | None,
                  secrets: Callable[[], list[Path]] = list) -> Isolation:
        """What this kind does here; ``secrets()``: host files no submission may read (a kind
        that cannot hide the host's files tells which of them it could read)."""

    @abstractmethod
    def start(self, shape: BoxShape) -> RunningBox:
        """Start a new box of ``shape``; its bootstrap waits for the bundle."""

    def needs_uid(self) -> bool:
        """Whether gradings must each hold a uid of their own (see ``grader.boxes.uid_slots``)."""
        return False

    def uid_base(self, config) -> int:
        """The first of the uids its gradings take (``config``: the grading configuration)."""
        return config.box.uid_base
