"""Worker processes: each claims one job of its lane at a time and grades it in the box.

Student code never runs in the web server's process: ``grader serve`` starts these
processes (``python -m grader.serve.workers OPTIONS-JSON LANE``), restarts one that
dies, and they die with it (the parent-death signal). A worker renews its job's lease
while the grading runs; killed, it stops renewing, and the job goes back to the queue.
With ``--cluster`` a worker hands the grading to a Dask worker (``grade_remote``) and
waits for it, still holding the lease.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from grader.serve import course, logs, queue
from grader.serve.bridge import (ErrorCause, GradingOptions, GradingReport, SharedMachine,
                                 cases_digest, failed_report, grade_file, grade_remote,
                                 grader_version, options_for_remote)
from grader.serve.db import Database, open_database
from grader.serve.options import ServeOptions

PR_SET_PDEATHSIG = 1
RESTART_PAUSE_SECONDS = 1.0
GIVEN_UP = "grading was interrupted {attempts} times (its worker stopped each time); your " \
           "instructor can regrade it"


class Grading(Protocol):
    def grade(self, name: str, data: bytes, label: str) -> GradingReport: ...

    def close(self) -> None: ...


class LocalGrading:
    """In the box, on this machine (the box holds a core of the worker's share). Each
    grading's file sits in a folder of this worker under the site's ``scratch``, removed
    after the grading; a killed worker's folder is removed by the next worker to start."""

    def __init__(self, options: GradingOptions, scratch: Path) -> None:
        self.options, self.machine = options, SharedMachine()
        self.folder = scratch / f"{socket.gethostname()}-{os.getpid()}"
        _sweep_dead_workers(scratch)
        self.folder.mkdir(parents=True, exist_ok=True)

    def grade(self, name: str, data: bytes, label: str) -> GradingReport:
        folder = Path(tempfile.mkdtemp(dir=self.folder))
        try:
            path = folder / safe_name(name)
            path.write_bytes(data)
            return grade_file(path, "", label, self.options, self.machine)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _sweep_dead_workers(scratch: Path) -> None:
    """Remove the folders of this machine's workers that are gone (killed mid-grading)."""
    host = socket.gethostname()
    for folder in scratch.glob(f"{host}-*") if scratch.is_dir() else ():
        pid = folder.name.removeprefix(f"{host}-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


class ClusterGrading:
    """On a Dask cluster's worker, from the file's bytes (``grader batch --cluster``'s task)."""

    def __init__(self, options: GradingOptions, address: str) -> None:
        from distributed import Client

        self.client = Client(address, timeout=30)
        self.cases_dir = options.cases_dir
        self.sent = options_for_remote(options)
        self.expected = {"grader_version": grader_version(),
                         "cases_digest": cases_digest(options)}

    def grade(self, name: str, data: bytes, label: str) -> GradingReport:
        future = self.client.submit(grade_remote, data, safe_name(name), "", label, self.sent,
                                    self.expected, pure=False)
        try:
            report = GradingReport.model_validate_json(future.result())
        except Exception as error:  # the task failed on every worker it was tried on
            report = failed_report(label, f"the cluster could not grade this "
                                   f"submission: {error}", ErrorCause.grader, self.cases_dir)
        report.submission = label
        return report

    def close(self) -> None:
        self.client.close()


def safe_name(name: str) -> str:
    """A file name for the upload in the grading folder: its base name, tamed."""
    base = re.sub(r"[^\w.-]+", "_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._")
    return base[:100] or "solution.py"


def _hold_lease(db: Database, job: int, owner: str, lease: float,
                done: threading.Event) -> None:
    while not done.wait(lease / 3):
        try:
            queue.renew(db, job, owner, lease)
        except Exception:  # a database hiccup: the next renewal tries again
            logs.setup().warning("lease renewal failed", extra={"job": job})


def grade_next(db: Database, lane: str, owner: str, grading: Grading, lease_seconds: float,
               recording: queue.Recording) -> bool:
    """Claim ``lane``'s next job, grade it holding its lease, store the result; False when
    there was nothing to claim."""
    job = queue.claim(db, lane, owner, lease_seconds, recording) \
        if queue.waiting(db, lane) else None
    if job is None:
        return False
    with db.transaction(write=False) as tx:
        name, data = course.content(tx, job.submission)
        student = course.submission(tx, job.submission)["student"]
    done = threading.Event()
    threading.Thread(target=_hold_lease, daemon=True,
                     args=(db, job.id, owner, lease_seconds, done)).start()
    started = time.monotonic()
    try:
        report = grading.grade(name, data, student)
    finally:
        done.set()
    stored = queue.complete(db, job.id, report.model_dump_json(), recording)
    logs.setup().info("graded", extra={
        "job": job.id, "submission": job.submission, "lane": lane, "attempt": job.attempts,
        "total": report.total, "seconds": round(time.monotonic() - started, 3),
        "stored": stored})
    return True


def recording(options: ServeOptions) -> queue.Recording:
    """What the site's results are recorded under: its cases (as one grading of every
    section digests them, the two lanes together) and this grader; and the result of a
    job interrupted MAX_ATTEMPTS times."""
    given_up = failed_report("submission", GIVEN_UP.format(attempts=queue.MAX_ATTEMPTS),
                             ErrorCause.grader, options.cases_dir)
    return queue.Recording(cases_digest(GradingOptions(cases_dir=options.cases_dir)),
                           grader_version(), given_up.model_dump_json())


def make_grading(options: ServeOptions, lane: str) -> Grading:
    grading_options = options.grading_options(lane)
    return ClusterGrading(grading_options, options.cluster) if options.cluster \
        else LocalGrading(grading_options, options.data / "scratch")


def work(options: ServeOptions, lane: str, stop: threading.Event) -> None:
    """Claim and grade ``lane``'s jobs until ``stop`` is set."""
    log = logs.setup()
    db = open_database(options.db, options.data)
    owner = f"{socket.gethostname()}:{os.getpid()}:{lane}"
    grading, recorded = make_grading(options, lane), recording(options)
    log.info("worker started", extra={"owner": owner})
    while not stop.is_set():
        try:
            busy = grade_next(db, lane, owner, grading, options.lease_seconds, recorded)
        except Exception as error:  # the database unreachable a moment: try again, live on
            log.error("cannot claim or store a job", extra={"error": repr(error)[:300]})
            busy = False
        if not busy:
            stop.wait(options.poll_seconds)
    grading.close()
    db.close()


def _die_with_parent(server: int) -> None:
    """Linux: this process is killed when the server that started it dies, even by kill -9.
    ``server`` is its pid (pid 1 in a container, so a parent of 1 proves nothing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != server:
        os._exit(0)  # the server died before the signal was set up


class WorkerPool:
    """The server's worker processes: started, restarted when one dies, stopped with it."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.lanes = [queue.UNIT] * options.workers + [queue.MNIST] * options.mnist_workers
        self.processes: list[subprocess.Popen | None] = [None] * len(self.lanes)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True, name="worker-pool")

    def _spawn(self, lane: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "grader.serve.workers",
                                 self.options.model_dump_json(), lane, str(os.getpid())])

    def start(self) -> None:
        self.thread.start()

    def _watch(self) -> None:
        # the watching thread starts every process: the parent-death signal follows it
        log = logs.setup()
        while not self.stopping.is_set():
            for number, lane in enumerate(self.lanes):
                process = self.processes[number]
                if process is None or process.poll() is not None:
                    if process is not None:
                        log.warning("worker ended; starting another",
                                    extra={"lane": lane, "pid": process.pid,
                                           "returncode": process.returncode})
                    self.processes[number] = self._spawn(lane)
            self.stopping.wait(RESTART_PAUSE_SECONDS)
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes:
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes if process and process.poll() is None]

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)


def main(argv: list[str]) -> None:
    """``OPTIONS_JSON LANE SERVER_PID``: the worker process ``WorkerPool`` starts."""
    _die_with_parent(int(argv[2]))
    options = ServeOptions.model_validate(json.loads(argv[0]))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        work(options, argv[1], stop)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
