"""A box that is a child process of the grader: started held, placed, then let go.

The command is started behind a one-line shell that waits for a first line on
stdin: meanwhile the grader puts its pid into the box's cgroup, so that every
process the box ever makes is counted there. Without a cgroup the limits are
the supervisor's rlimits, and the CPU time is the kernel's accounting of the
reaped process tree (``wait4``).
"""
from __future__ import annotations

import dataclasses
import os
import queue
import select
import selectors
import signal
import subprocess
import threading
import time

from grader.boxes.base import STDERR, STDOUT, BoxExit, BoxLimits, BoxShape, RunningBox
from grader.boxes.cgroups import Cgroup
from grader.boxes.protocol import BoxRequest

READ_CHUNK = 1 << 16
RLIMITS = "rlimits per run (RLIMIT_AS, RLIMIT_NPROC, RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE)"


class RunningProcessBox(RunningBox):
    """A running box that is a child process of the grader: pipes for its three streams, a
    cgroup when there is one (the bubblewrap, in-container and trusted kinds start one)."""

    def __init__(self, shape: BoxShape, command: list[str], environment: dict[str, str],
                 cgroup: Cgroup | None, resources: str, request_fields: dict,
                 pass_fds: tuple[int, ...] = ()):
        self.shape, self.cgroup, self.resources = shape, cgroup, resources
        self.request_fields = request_fields  # what this kind of box sets in every request
        self.killed, self.started = False, time.monotonic()
        # held until its first line of stdin, which comes once it is in its cgroup
        held = ["/bin/sh", "-c", 'read go && exec "$@"', "nn-grader-box", *command]
        self.process = subprocess.Popen(
            held, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=environment, pass_fds=pass_fds, start_new_session=True, close_fds=True, cwd="/")
        self.outbox: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._write, name="box-stdin", daemon=True).start()
        self.selector = selectors.DefaultSelector()
        for stream, name in ((self.process.stdout, STDOUT), (self.process.stderr, STDERR)):
            os.set_blocking(stream.fileno(), False)
            self.selector.register(stream, selectors.EVENT_READ, name)
        self.pidfd = os.pidfd_open(self.process.pid)

    def complete(self, request: BoxRequest, limits: BoxLimits) -> BoxRequest:
        """A cgroup's limits, or the supervisor's RLIMIT_AS when there is no cgroup."""
        fields = dict(self.request_fields)
        if self.cgroup is not None:
            self.cgroup.limit(limits.memory_mb, limits.max_processes)
        else:
            fields["memory_mb"] = limits.memory_mb
        return dataclasses.replace(request, **fields)

    def _write(self) -> None:
        """The box's stdin, in order: into its cgroup (the kernel may take a while to move a
        process: the grader goes on meanwhile), let go, then what ``send`` queued."""
        try:
            if self.cgroup is not None:
                self.cgroup.add(self.process.pid)
            data = b"go\n"
            while data:
                self.process.stdin.write(data)
                self.process.stdin.flush()
                data = self.outbox.get()
        except (BrokenPipeError, ValueError, OSError):  # the box is gone, or no cgroup took it
            self.kill()

    def send(self, data: bytes) -> None:
        self.outbox.put(data)

    def read(self, timeout: float) -> list[tuple[str, bytes]]:
        if not self.selector.get_map():
            time.sleep(min(timeout, 0.05))
            return []
        chunks = []
        for key, _ in self.selector.select(timeout):
            try:
                chunk = os.read(key.fileobj.fileno(), READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                self.selector.unregister(key.fileobj)
            chunks.append((key.data, chunk))
        return chunks

    def kill(self) -> None:
        self.killed = True
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cgroup is not None:
            self.cgroup.kill_all()

    def oom_kills(self) -> int:
        return self.cgroup.usage().oom_kills if self.cgroup is not None else 0

    def cpu_seconds(self) -> float | None:
        return self.cgroup.usage().cpu_seconds if self.cgroup is not None else None

    def finish(self, timeout: float) -> BoxExit:
        if not select.select([self.pidfd], [], [], max(0.0, timeout))[0]:
            self.kill()
        self.outbox.put(b"")  # the writer's end
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        os.close(self.pidfd)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self.selector.close()
        box_exit = BoxExit(returncode=self.process.returncode, killed_by_host=self.killed,
                           cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3))
        if self.cgroup is not None:
            measured = self.cgroup.remove()  # kills whatever outlived the box's PID 1 first
            box_exit.cpu_seconds = measured.cpu_seconds or box_exit.cpu_seconds
            box_exit.memory_peak_mb, box_exit.oom_kills = measured.memory_peak_mb, measured.oom_kills
        return box_exit
