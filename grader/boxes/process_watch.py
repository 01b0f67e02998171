"""Inside every box, beside the supervisor: what a run's processes print, use and leave.

A run's output tail (``OutputTail``), the CPU time of every process below the
supervisor, read from ``/proc`` (``descendants_cpu_seconds``), the idle watch that
stops a run whose processes stopped computing (``IdleWatch``), and the end of
every run: kill and reap every process but the supervisor (``kill_everything``).
Standard library only.
"""
from __future__ import annotations

import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable

from grader.boxes.protocol import IdleStop

REAP_SECONDS = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of the CPU times in /proc/<pid>/stat
IDLE_SAMPLE_SECONDS = 1.0  # how often a run with an idle limit has its CPU time read
# Samples further apart than this mean the supervisor itself was held (blocked sending frames to
# a host that did not read them): the run may have been waiting for it, so its window restarts.
IDLE_GAP_SECONDS = 5.0


class OutputTail:
    """The last ``limit`` bytes a run printed."""

    def __init__(self, limit: int):
        self.limit, self.data, self.truncated, self.changed = limit, bytearray(), False, False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        self.changed = True
        if len(self.data) > self.limit:
            del self.data[:len(self.data) - self.limit]
            self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def last_line(self) -> str:
        """The last non-empty line, a progress bar's last state (after ``\\r``) included."""
        for line in reversed(self.text().replace("\r", "\n").splitlines()):
            if line.strip():
                return line.strip()[-300:]
        return ""


def children_of(pid: int | str = "self") -> list[int]:
    """The children of every thread of process ``pid`` (none once it has ended)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    pids = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as stream:
                pids += [int(child) for child in stream.read().split()]
        except OSError:
            continue
    return pids


def process_cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``: its threads' and its reaped children's CPU
    time (0 once it is gone: its parent's cutime and cstime then hold it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()  # the name may hold anything
        return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def descendants_cpu_seconds(child: int) -> float | None:
    """CPU time of every process below this one, with the children they reaped. Each process is
    read before its parent: one reaped meanwhile is then counted twice, never missed. None when
    ``child`` (not reaped yet, so listed) is not among this one's children: a kernel without
    ``/proc/<pid>/task/<tid>/children`` (gVisor...), where no walk tells idle from busy."""
    pids = children_of()
    if child not in pids:
        return None
    for pid in pids:  # breadth first: the list grows while it is walked
        pids += children_of(pid)
    return sum(process_cpu_seconds(pid) for pid in reversed(pids))


def kill_everything(kill_all: bool) -> None:
    """Kill and reap every process but this one: in a namespace (or as a uid of our own)
    ``kill(-1)``; otherwise every child this subreaper has, until none is left."""
    deadline = time.monotonic() + REAP_SECONDS
    while time.monotonic() < deadline:
        if kill_all:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children_of():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.002)


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class IdleWatch:
    """Stops a run whose processes have stopped computing (sleeping, blocked on a lock, a pipe,
    input or a child that waits): such a run would hold its box, and in a class its worker,
    until its wall-clock limit. The run is idle when, over its last ``seconds`` (counted once
    that much of it has passed), the CPU time ``used()`` reads grew by less than ``share`` of
    the window; never while ``used()`` cannot tell (None)."""

    def __init__(self, seconds: float, share: float, started: float,
                 used: Callable[[], float | None]):
        self.seconds, self.share, self.used = seconds, share, used
        self.samples = deque([(started, 0.0)])  # (when, CPU seconds), oldest first
        self.most = 0.0  # the largest reading: a process missed in one walk cannot lower it
        self.next_sample = started + IDLE_SAMPLE_SECONDS

    def check(self, now: float) -> IdleStop | None:
        """Read the run's CPU time when a sample is due; an ``IdleStop`` if the run is idle."""
        if now < self.next_sample:
            return None
        self.next_sample = now + IDLE_SAMPLE_SECONDS
        used = self.used()
        if used is None:
            return None
        self.most = max(self.most, used)
        if now - self.samples[-1][0] > IDLE_GAP_SECONDS:
            self.samples.clear()
        self.samples.append((now, self.most))
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.seconds:
            self.samples.popleft()
        since, before = self.samples[0]
        window, grown = now - since, self.most - before
        if window >= self.seconds and grown < self.share * window:
            return IdleStop(window_seconds=round(window, 1), cpu_seconds=round(grown, 3))
        return None
