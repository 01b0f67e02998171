"""One student's grading inside a batch: never raises for the submission or the grader.

Whatever happens, the result is a report (``grade_or_failed_report``: a batch never loses
the rest of the class to one submission, nor to a bug of ours); only ``GradingStopped``
(Ctrl-C) passes, because a stopped grading has no verdict to keep. The same function
grades on a Dask worker (``grade_remote``), from the file's bytes.
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.batch.identity import cases_digest, grader_version
from grader.boxes.machine_share import SharedMachine
from grader.gradings import Key
from grader.options import GradingOptions
from grader.reports.model import ErrorCause, GradingReport

REMOTE_OPTIONS = ("skip_mnist", "sections", "mnist_fetch", "blas_threads", "box", "image")


@dataclass(frozen=True)
class Job:
    """A student's submission to grade, and what its result depends on."""

    key: Key
    path: Path | None
    problem: str  # why there is no file to grade (path is None)

    @property
    def student(self) -> str:
        return self.key.student


def grade_file(path: Path | None, problem: str, label: str, options: GradingOptions,
               machine: SharedMachine | None) -> GradingReport:
    """``label``'s report, from ``path`` (None: the failed report saying ``problem``)."""
    from grader.pipeline import failed_report, grade_or_failed_report

    if path is None:
        return failed_report(label, problem, ErrorCause.submission, options.cases_dir)
    return grade_or_failed_report(path, options, label=label, machine=machine)


def options_for_remote(options: GradingOptions) -> dict:
    """The options a cluster worker grades with (paths are the worker's own)."""
    return {name: getattr(options, name) for name in REMOTE_OPTIONS} | \
        {"cases_dir": str(options.cases_dir)}


def remote_options(sent: dict) -> GradingOptions:
    """Options on a worker: the coordinator's cases folder if it has one there, else its own."""
    options = GradingOptions(**{name: sent[name] for name in REMOTE_OPTIONS})
    if Path(sent["cases_dir"]).is_dir():
        options = dataclasses.replace(options, cases_dir=Path(sent["cases_dir"]))
    return options


_WORKER_MACHINE: SharedMachine | None = None


def worker_machine() -> SharedMachine:
    """The cores of the worker's machine, shared by its threads (one per worker process)."""
    global _WORKER_MACHINE
    if _WORKER_MACHINE is None:
        _WORKER_MACHINE = SharedMachine()
    return _WORKER_MACHINE


def worker_identity(sent: dict) -> dict[str, str]:
    """What a worker would grade with: compared with the coordinator's before a batch."""
    options = remote_options(sent)
    return {"grader_version": grader_version(), "cases_digest": cases_digest(options),
            "cases_dir": str(options.cases_dir)}


def grade_remote(data: bytes | None, name: str, problem: str, label: str, sent: dict,
                 expected: dict[str, str]) -> str:
    """Grade on a Dask worker: the report as JSON (a grader failure if this worker's grader
    or test cases are not the coordinator's)."""
    from grader.pipeline import failed_report

    options = remote_options(sent)
    found = worker_identity(sent)
    if (found["grader_version"], found["cases_digest"]) != \
            (expected["grader_version"], expected["cases_digest"]):
        return failed_report(label, f"this worker's grader {found['grader_version']} or "
                             f"test cases ({found['cases_dir']}) are not the coordinator's",
                             ErrorCause.grader, options.cases_dir).model_dump_json()
    if data is None:
        return grade_file(None, problem, label, options, None).model_dump_json()
    folder = Path(tempfile.mkdtemp(prefix="nn-grader-remote-"))
    try:
        path = folder / Path(name).name
        path.write_bytes(data)
        return grade_file(path, problem, label, options, worker_machine()).model_dump_json()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
