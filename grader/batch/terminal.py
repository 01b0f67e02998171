"""What the terminal shows of a batch: a live bar while it runs, a summary at the end.

On a terminal: done out of total, running, failed, elapsed and time left, redrawn as
gradings start and end. Elsewhere (a CI log, a file), a plain line every
``LOG_EVERY_SECONDS`` and when the batch ends.
"""
from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from grader.batch.run import BatchCounts, BatchSummary

LOG_EVERY_SECONDS = 10.0


def describe(counts: BatchCounts) -> str:
    reused = f" ({counts.reused} from earlier runs)" if counts.reused else ""
    return (f"{counts.done}/{counts.total} done{reused}, {counts.running} running, "
            f"{counts.failed} could not be graded")


class BatchDisplay:
    """A context manager whose ``show`` is ``run_batch``'s callback (called from threads)."""

    def __init__(self, console: Console) -> None:
        self.console, self.logged = console, 0.0
        self.lock = threading.Lock()
        self.progress = Progress(
            TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
            TextColumn("running {task.fields[running]}, failed {task.fields[failed]}"),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=console, transient=False) if console.is_terminal else None
        self.task = None

    def __enter__(self) -> BatchDisplay:
        if self.progress is not None:
            self.progress.start()
        return self

    def show(self, counts: BatchCounts) -> None:
        with self.lock:
            if self.progress is not None:
                if self.task is None:
                    self.task = self.progress.add_task("batch", total=counts.total,
                                                       completed=counts.reused, running=0,
                                                       failed=0)
                self.progress.update(self.task, completed=counts.done, running=counts.running,
                                     failed=counts.failed)
            elif time.monotonic() - self.logged >= LOG_EVERY_SECONDS \
                    or counts.done == counts.total:
                self.logged = time.monotonic()
                self.console.print(Text(describe(counts)), soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def print_summary(summary: BatchSummary, console: Console) -> None:
    counts = summary.counts
    graded = counts.done - counts.reused
    state = "stopped (Ctrl-C): run the same command again to resume" if summary.stopped \
        else "finished"
    console.print(Text(
        f"{summary.layout} layout, {summary.students} students: {graded} graded now, "
        f"{counts.reused} already had a result, {counts.failed} could not be graded; "
        f"{state} in {summary.seconds:.1f} s"), soft_wrap=True)
    for path in summary.written:
        console.print(Text(f"wrote {path}"), soft_wrap=True)
