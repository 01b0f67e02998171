"""Where a batch's gradings run: threads of this process, or a Dask distributed cluster.

Both hand finished reports back to the coordinator (which alone writes the database)
as they come, and both stop promptly on ``stop()``: boxes running here are killed,
tasks on the cluster are cancelled.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from grader.batch.grading import Job, grade_file, grade_remote, options_for_remote, worker_identity
from grader.batch.identity import cases_digest, grader_version
from grader.boxes.machine_share import GradingStopped, SharedMachine
from grader.gradings import now
from grader.options import GradingOptions
from grader.reports.model import ErrorCause, GradingReport

OnRunning = Callable[[int], None]  # told how many gradings are running, when it changes


class ExecutorError(Exception):
    """The gradings cannot be run (no cluster at that address, workers not like this grader)."""


@dataclass(frozen=True)
class Finished:
    job: Job
    report: GradingReport
    worker: str
    started_at: str


class Executor(Protocol):
    def grade(self, jobs: list[Job], on_running: OnRunning) -> Iterator[Finished]: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class LocalExecutor:
    """``jobs`` gradings at once in threads; each box holds its threads' worth of cores."""

    def __init__(self, options: GradingOptions, jobs: int) -> None:
        self.options, self.jobs = options, jobs
        self.machine = SharedMachine()
        self.pool = ThreadPoolExecutor(jobs, thread_name_prefix="grading")
        self.worker = f"{socket.gethostname()}:local"
        self._running = 0
        self._lock = threading.Lock()

    def _count(self, change: int, on_running: OnRunning) -> None:
        with self._lock:
            self._running += change
            running = self._running
        on_running(running)

    def _grade(self, job: Job, on_running: OnRunning) -> Finished:
        self.machine.check()
        started = now()
        self._count(+1, on_running)
        try:
            report = grade_file(job.path, job.problem, job.student, self.options, self.machine)
        finally:
            self._count(-1, on_running)
        return Finished(job, report, self.worker, started)

    def grade(self, jobs: list[Job], on_running: OnRunning) -> Iterator[Finished]:
        pending = {self.pool.submit(self._grade, job, on_running) for job in jobs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except GradingStopped:
                    continue

    def stop(self) -> None:
        self.machine.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _reachable(address: str) -> None:
    """Fail at once, not after Dask's retries, when nothing listens at a tcp:// address."""
    found = urlsplit(address)
    if found.scheme != "tcp" or not found.hostname or not found.port:
        return
    try:
        socket.create_connection((found.hostname, found.port), timeout=10).close()
    except OSError as error:
        raise ExecutorError(f"no Dask scheduler at {address}: {error}") from None


class ClusterExecutor:
    """Each submission is a task of a Dask cluster; a lost worker's task is run elsewhere."""

    def __init__(self, options: GradingOptions, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("--cluster needs Dask distributed: pip install 'nn-grader"
                                "[cluster]'") from None
        self.options = options
        self.sent = options_for_remote(options)
        self.expected = {"grader_version": grader_version(), "cases_digest": cases_digest(options)}
        _reachable(address)
        try:
            self.client = Client(address, timeout=30)
        except (OSError, TimeoutError, ValueError) as error:
            raise ExecutorError(f"no Dask scheduler at {address}: {error}") from None
        self.futures: list[Future] = []
        self._check_workers()

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=60)
        except TimeoutError:
            self.close()
            raise ExecutorError("the Dask cluster has no worker (start `dask worker` on the "
                                "grading machines)") from None
        found = self.client.run(worker_identity, self.sent)
        different = [f"{worker} (grader {identity['grader_version']}, cases "
                     f"{identity['cases_dir']})" for worker, identity in found.items()
                     if (identity["grader_version"], identity["cases_digest"]) !=
                     (self.expected["grader_version"], self.expected["cases_digest"])]
        if different:
            self.close()
            raise ExecutorError(
                f"these Dask workers do not grade like this coordinator (grader "
                f"{self.expected['grader_version']}, the test cases of {self.options.cases_dir}): "
                + "; ".join(different) + ". Install the same grader and test cases there.")

    def threads(self) -> int:
        return sum(self.client.nthreads().values())

    def grade(self, jobs: list[Job], on_running: OnRunning) -> Iterator[Finished]:
        from distributed import as_completed

        by_key = {}
        for number, job in enumerate(jobs):
            data = job.path.read_bytes() if job.path is not None else None
            name = job.path.name if job.path is not None else ""
            future = self.client.submit(grade_remote, data, name, job.problem, job.student,
                                        self.sent, self.expected, pure=False,
                                        key=f"grade-{number}-{job.key.file_sha256[:12]}")
            by_key[future.key] = (job, now())
            self.futures.append(future)
        remaining = len(jobs)
        on_running(min(remaining, self.threads()))
        for future in as_completed(self.futures):
            job, started = by_key[future.key]
            remaining -= 1
            on_running(min(remaining, self.threads()))
            if future.status == "cancelled":
                continue
            try:
                report = GradingReport.model_validate_json(future.result())
            except Exception as error:  # the task failed on every worker it was tried on
                from grader.pipeline import failed_report

                report = failed_report(job.path or job.student, f"the cluster could not grade "
                                       f"this submission: {error}", ErrorCause.grader,
                                       self.options.cases_dir)
            report.submission = job.student
            who = self.client.who_has(future).get(future.key) or ("cluster",)
            yield Finished(job, report, ",".join(who), started)

    def stop(self) -> None:
        self.client.cancel(self.futures, force=True)

    def close(self) -> None:
        self.client.close()
