"""Run one section of a submission in a child process with limits, and clean up after it.

Isolation, strongest first: Linux namespaces through util-linux ``unshare``
(new PID namespace, so every process of the submission dies with it; new
network namespace with no interfaces up; private mounts that cover the
expected outputs and test labels); inside a container the container isolates;
otherwise only a process group. Resource limits are set by the trusted prelude
of ``sandbox_child.py`` in every mode.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pydantic import BaseModel

from grader.config import Limits

CHILD_SCRIPT = Path(__file__).with_name("sandbox_child.py")
NAMESPACE_FLAGS = ["--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--mount"]
SANDBOX_UID_BASE = 62000
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


class Isolation(BaseModel):
    """What this machine lets the sandbox do."""

    mode: str  # namespaces, container or none
    command_prefix: list[str] = []
    network_cut: bool
    can_hide_paths: bool
    drops_privileges: bool
    notes: list[str] = []


class ChildRun(BaseModel):
    """How a child process ended, as the parent saw it."""

    returncode: int | None
    timed_out: bool
    seconds: float
    output_tail: str

    @property
    def signal_number(self) -> int | None:
        return -self.returncode if self.returncode is not None and self.returncode < 0 else None


def _namespaces_work(prefix: list[str]) -> bool:
    try:
        return subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


CONTAINER_ISOLATION = Isolation(
    mode="container", network_cut=True, can_hide_paths=True, drops_privileges=False,
    notes=["inside the grading container: no network, nothing secret mounted"])


@functools.cache
def detect_isolation() -> Isolation:
    """Probe once which isolation works here."""
    is_root = os.geteuid() == 0
    unshare = shutil.which("unshare")
    if unshare:
        prefix = [unshare, *NAMESPACE_FLAGS] + ([] if is_root else ["--user", "--map-root-user"])
        if _namespaces_work(prefix):
            notes = [] if is_root else ["not root: the submission runs as the grading user "
                                        "inside a user namespace"]
            return Isolation(mode="namespaces", command_prefix=prefix, network_cut=True,
                             can_hide_paths=True, drops_privileges=is_root, notes=notes)
    if os.environ.get("GRADER_IN_CONTAINER") == "1":
        return CONTAINER_ISOLATION
    return Isolation(mode="none", network_cut=False, can_hide_paths=False,
                     drops_privileges=False,
                     notes=["namespaces unavailable: the network could not be cut and the "
                            "expected outputs on this disk are readable by the submission"])


def child_environment(workdir: Path, blas_threads: int) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's leaks into the child."""
    threads = str(blas_threads)
    env = {"PATH": SAFE_PATH, "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": threads,
           "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    env.update({key: os.environ[key] for key in PASSED_ENV if key in os.environ})
    return env


def _tail(path: Path, max_bytes: int) -> str:
    with open(path, "rb") as stream:
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        stream.seek(max(0, size - max_bytes))
        text = stream.read().decode("utf-8", errors="replace")
    return ("[... earlier output cut ...]\n" if size > max_bytes else "") + text


def _children(pid: int) -> list[int]:
    """The direct children of ``pid``, from ``/proc`` (empty when it has none or is gone)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):  # no CONFIG_PROC_CHILDREN: scan every process's parent
        children = []
        for entry in Path("/proc").iterdir():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if entry.name.isdigit() and fields[1] == str(pid):
                children.append(int(entry.name))
        return children


def _kill_everything(process: subprocess.Popen, isolation: Isolation) -> None:
    """Kill the child's process group; the PID namespace (or PID 1 in a container) takes the rest."""
    if isolation.mode == "namespaces" and process.returncode is None:
        # unshare's child is PID 1 of the sandbox's PID namespace; killing it kills every
        # process in there. It must be killed by pid, not only through the process group below:
        # the submission may have left the group (os.setsid()), and dropping privileges cleared
        # the parent-death signal of unshare --kill-child. Done while unshare still lives, so
        # that the pid is still its child's. (Once unshare has exited, so has its child.)
        for pid in _children(process.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:  # unshare reaps its child and exits: no zombie is left for the system's init
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if _is_container_init(isolation):
        try:
            os.kill(-1, signal.SIGKILL)  # as PID 1 this spares only ourselves
        except ProcessLookupError:  # nothing else was left
            pass


def _is_container_init(isolation: Isolation) -> bool:
    return isolation.mode == "container" and os.getpid() == 1


def _reap_orphans(seconds: float = 5.0) -> None:
    """As a container's PID 1, collect the killed orphans (they still count as processes)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.005)


_live_processes: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def kill_running_children() -> None:
    """Kill every child still running (on Ctrl-C), so waiting threads return at once."""
    with _live_lock:
        processes = list(_live_processes)
    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_child(spec_path: Path, workdir: Path, limits: Limits, blas_threads: int,
              isolation: Isolation) -> ChildRun:
    """Start the child on ``spec_path``, wait at most the timeout, leave nothing running."""
    log_path = workdir.parent / f"{spec_path.stem}.log"
    command = [*isolation.command_prefix, sys.executable, "-I", str(CHILD_SCRIPT), str(spec_path)]
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=child_environment(workdir, blas_threads),
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        with _live_lock:
            _live_processes.add(process)
        try:
            process.wait(timeout=limits.timeout_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_everything(process, isolation)
            process.wait()
            with _live_lock:
                _live_processes.discard(process)
            if _is_container_init(isolation):
                _reap_orphans()
    return ChildRun(returncode=process.returncode, timed_out=timed_out,
                    seconds=round(time.perf_counter() - started, 3),
                    output_tail=_tail(log_path, limits.max_output_kb * 1024))
