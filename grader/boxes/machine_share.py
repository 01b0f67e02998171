"""What gradings running side by side in one process share: the cores, and a stop signal.

A batch grades several submissions at once. Each box holds as many of the machine's
cores as it runs threads (one for the unit sections, the BLAS threads for training)
while it runs, so that jobs x BLAS threads never exceed the cores and no box's
wall-clock guard is reached because its neighbours took its CPU. Ctrl-C sets
``stop``: every box polls it a few times a second and is killed, and the grading
raises ``GradingStopped`` instead of reporting a verdict the submission did not earn.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class GradingStopped(Exception):
    """The grading was stopped from outside (Ctrl-C, a batch ending): it has no verdict."""


def machine_cores() -> int:
    """The cores this process may run on (its affinity, e.g. a container's or Slurm's share)."""
    return len(os.sched_getaffinity(0))


class CpuSlots:
    """A counting semaphore of cores: ``hold(n)`` takes n of them at once, or waits."""

    def __init__(self, cores: int) -> None:
        self.cores = max(1, cores)
        self._free = self.cores
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, count: int, stop: threading.Event | None = None) -> Iterator[None]:
        """Hold ``count`` cores (at most all of them) while the block runs."""
        count = min(max(1, count), self.cores)
        with self._changed:
            while self._free < count:
                if stop is not None and stop.is_set():
                    raise GradingStopped("grading was stopped")
                self._changed.wait(0.25)
            self._free -= count
        try:
            yield
        finally:
            with self._changed:
                self._free += count
                self._changed.notify_all()


@dataclass
class SharedMachine:
    """Handed to every grading of a batch run in one process."""

    cpu: CpuSlots = field(default_factory=lambda: CpuSlots(machine_cores()))
    stop: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.stop.is_set():
            raise GradingStopped("grading was stopped")
