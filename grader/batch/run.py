"""A batch: find the class's submissions, grade what has no result yet, write the gradebook.

The coordinator records the roster, skips every submission whose (file, cases, grader)
triple already has a result (unless ``regrade``), hands the rest to an executor (threads
here, or a Dask cluster) and stores each report the moment it comes back. Ctrl-C stops
the gradings in flight; what finished is kept, and the same command resumes.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.executors import ClusterExecutor, Executor, ExecutorError, LocalExecutor
from grader.batch.grading import Job
from grader.batch.identity import cases_digest, file_sha256, grader_version
from grader.batch.layouts import LayoutError, open_submissions
from grader.batch.store import ResultStore, RosterRow, StoreError
from grader.boxes.machine_share import machine_cores
from grader.gradings import Key
from grader.options import GradingOptions


class BatchError(Exception):
    """The batch cannot run; the message says why (nothing was graded)."""


@dataclass(frozen=True)
class BatchRequest:
    submissions: Path
    out: Path
    options: GradingOptions
    jobs: int | None = None
    regrade: bool = False
    cluster: str | None = None


@dataclass
class BatchCounts:
    """What a progress display shows; updated from the coordinator and the executor."""

    total: int = 0
    done: int = 0
    running: int = 0
    failed: int = 0
    reused: int = 0


@dataclass
class BatchSummary:
    layout: str
    students: int
    counts: BatchCounts
    stopped: bool = False
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)


OnChange = Callable[[BatchCounts], None]


def default_jobs(options: GradingOptions, blas_threads: int) -> int:
    """As many gradings as the cores hold: one core for unit sections, the BLAS threads for
    MNIST (the boxes also wait for free cores, so more jobs never oversubscribe)."""
    per_job = 1 if options.skip_mnist else max(1, blas_threads)
    return max(1, machine_cores() // per_job)


def _preflight(options: GradingOptions) -> int:
    """Load the cases and MNIST once, so a broken set-up fails before any grading: the MNIST
    BLAS threads."""
    from grader.config import ConfigError, load_config
    from grader.pipeline import GradingError, build_sections

    if not Path(options.cases_dir).is_dir():
        raise BatchError(f"test case directory {options.cases_dir} does not exist")
    try:
        config = load_config(options.cases_dir)
        build_sections(config, options)
    except (ConfigError, GradingError) as error:
        raise BatchError(str(error)) from None
    if config.box.uids < 1:
        raise BatchError("grading.toml: box.uids must be at least 1")
    return options.blas_threads or config.mnist.blas_threads


def _executor(request: BatchRequest, blas_threads: int) -> Executor:
    if request.cluster:
        return ClusterExecutor(request.options, request.cluster)
    jobs = request.jobs or default_jobs(request.options, blas_threads)
    return LocalExecutor(request.options, jobs)


def run_batch(request: BatchRequest, on_change: OnChange = lambda counts: None,
              after: Callable[[ResultStore], list[Path]] | None = None) -> BatchSummary:
    """Grade the class in ``request.submissions`` into ``request.out``; ``after`` writes the
    gradebook (also after Ctrl-C, from what is stored)."""
    started = time.monotonic()
    if request.jobs is not None and request.jobs < 1:
        raise BatchError("--jobs must be at least 1")
    blas_threads = _preflight(request.options)
    try:
        with open_submissions(request.submissions) as roster, ResultStore(request.out) as store:
            version, digest = grader_version(), cases_digest(request.options)
            jobs = [Job(Key(entry.student, file_sha256(entry.path), digest, version),
                        entry.path, entry.problem) for entry in roster.entries]
            members = [RosterRow(job.student, str(job.path) if job.path else None,
                                 job.key.file_sha256, job.problem, _code(job.path))
                       for job in jobs]
            batch_id = store.start_batch(str(request.submissions.resolve()), roster.layout,
                                         digest, version, _described(request), members)
            todo = [job for job in jobs if request.regrade or not store.is_done(job.key)]
            counts = BatchCounts(total=len(jobs), reused=len(jobs) - len(todo),
                                 done=len(jobs) - len(todo))
            on_change(counts)
            summary = BatchSummary(roster.layout, len(jobs), counts)
            executor = _executor(request, blas_threads)
            try:
                summary.stopped = _grade_all(executor, todo, store, counts, on_change)
            finally:
                executor.close()
            if not summary.stopped:
                store.finish_batch(batch_id)
            summary.written = after(store) if after else []
    except (LayoutError, StoreError, ExecutorError) as error:
        raise BatchError(str(error)) from None
    summary.seconds = round(time.monotonic() - started, 2)
    return summary


def _grade_all(executor: Executor, todo: list[Job], store: ResultStore,
               counts: BatchCounts, on_change: OnChange) -> bool:
    """Store each report as it comes; True when Ctrl-C stopped the batch."""
    def running(number: int) -> None:
        counts.running = number
        on_change(counts)

    try:
        for finished in executor.grade(todo, running):
            store.record(finished.job.key, finished.report, finished.worker,
                         finished.started_at)
            counts.done += 1
            counts.failed += finished.report.error is not None
            on_change(counts)
    except KeyboardInterrupt:
        executor.stop()
        return True
    return False


def _code(path: Path | None) -> str | None:
    """The code a file holds, as graded (a notebook's cells), or None."""
    from grader.submission import SubmissionError, read_submission

    if path is None:
        return None
    try:
        return read_submission(path).source.decode("utf-8-sig", errors="replace")
    except SubmissionError:
        return None


def _described(request: BatchRequest) -> dict:
    options = request.options
    return {"box": options.box, "skip_mnist": options.skip_mnist,
            "cases_dir": str(options.cases_dir), "jobs": request.jobs,
            "cluster": request.cluster, "regrade": request.regrade}
