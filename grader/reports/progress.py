"""What the terminal shows while a long run (MNIST) goes on: never silent for long.

On a terminal, one status line that is rewritten every second: elapsed time,
CPU time against the budget, the submission's last output line. Elsewhere (a
CI log), a plain line every ``LOG_EVERY_SECONDS``.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.text import Text

from grader.boxes.session import ProgressEvent
from grader.reports.untrusted_text import shown

LOG_EVERY_SECONDS = 10.0


def describe(event: ProgressEvent) -> str:
    parts = [f"{event.section}: {event.seconds:.0f} s"]
    if event.cpu_seconds is not None and event.cpu_budget is not None:
        parts.append(f"CPU {event.cpu_seconds:.0f} s of a {event.cpu_budget:.0f} s budget")
    elif event.wall_limit is not None:
        parts.append(f"guard at {event.wall_limit:.0f} s")
    if event.last_line:
        parts.append(shown(event.last_line)[-120:])
    return " | ".join(parts)


class ProgressDisplay:
    """A context manager whose ``show`` is the pipeline's progress callback."""

    def __init__(self, console: Console):
        self.console, self.status, self.logged = console, None, 0.0

    def __enter__(self) -> ProgressDisplay:
        return self

    def show(self, event: ProgressEvent) -> None:
        text = Text(describe(event))
        if self.console.is_terminal:
            if self.status is None:
                self.status = self.console.status(text)
                self.status.start()
            self.status.update(text)
        elif time.monotonic() - self.logged >= LOG_EVERY_SECONDS:
            self.logged = time.monotonic()
            self.console.print(text, soft_wrap=True)

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.stop()
