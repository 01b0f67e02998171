"""How ``grader serve`` runs: one pydantic model, handed from the command to the app and,
as JSON, to every worker process it starts."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import BaseModel, Field

from grader.serve import queue
from grader.serve.bridge import DEFAULT_CASES_DIR, MNIST_SECTION, GradingOptions, machine_cores


def default_mnist_workers() -> int:
    """One training per core, a core kept for unit feedback (grader/machine_share.py's rule
    of one box per core share, with single-threaded MNIST boxes)."""
    return max(1, machine_cores() - 1)


class ServeOptions(BaseModel):
    data: Path = Field(Path("grader-site"), description="SQLite database and logs")
    db: str | None = Field(None, description="postgresql://... (None: SQLite under data)")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(2, ge=0, le=256, description="unit-lane worker processes")
    mnist_workers: int = Field(default_factory=default_mnist_workers, ge=0, le=256)
    cluster: str | None = Field(None, description="tcp://HOST:PORT of a Dask scheduler: "
                                                  "workers grade there instead of here")
    lease_seconds: float = Field(30.0, gt=0, description="a silent worker's job is re-queued "
                                                         "after this")
    poll_seconds: float = Field(0.2, gt=0)
    secure_cookies: bool = False
    cases_dir: Path = DEFAULT_CASES_DIR
    mnist_dir: Path | None = None
    mnist_fetch: bool = True

    def grading_options(self, lane: str) -> GradingOptions:
        """A lane's gradings: the unit sections, or MNIST alone."""
        base = GradingOptions(cases_dir=self.cases_dir, mnist_dir=self.mnist_dir,
                              mnist_fetch=self.mnist_fetch)
        if lane == queue.UNIT:
            return dataclasses.replace(base, skip_mnist=True)
        return dataclasses.replace(base, sections=frozenset({MNIST_SECTION}))
