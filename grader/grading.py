"""The grading pipeline: load cases -> run each section sandboxed -> judge -> score -> report.

Two backends run the sections: ``process`` (each section in a sandboxed child
process of this one, in parallel) and ``docker`` (``grader.docker_backend``: one
container per submission, whose entry runs the sections through the same
``prepare_section``/``run_section`` path). Both judge here, on the host, with
``judge_unit_section`` and ``judge_mnist_section`` from a ``ChildRun`` and the
section's output directory, so their verdicts are the same.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.config import GradingConfig, Limits, MnistLimits, load_config
from grader.judge import (ChildStatus, UnreadableOutput, exception_verdict, judge_case,
                          process_end_verdict, read_arrays, read_status)
from grader.mnist_section import MnistInputs, prepare_mnist_inputs
from grader.modification import check_modifications
from grader.report_model import (CaseResult, GradingReport, SandboxInfo,
                                 SectionResult, Verdict)
from grader.sandbox import (SANDBOX_UID_BASE, ChildRun, Isolation, detect_isolation,
                            kill_running_children, run_child)
from grader.sandbox_child import MNIST_PREDICTIONS
from grader.workspace import REFERENCE_DIR, SectionWorkspace, create_section_workspace, write_spec
from reference import common
from reference.common import Case, CaseFileError, Section

REPO_DIR = REFERENCE_DIR.parent
DEFAULT_CASES_DIR = REPO_DIR / "test_cases"
VISIBILITIES = ("public", "hidden")
MAX_SUBMISSION_BYTES = 1 << 20
BACKENDS = ("process", "docker")


class GradingError(Exception):
    """The grader cannot grade (bad path, broken test cases); not a verdict on the student."""


@dataclass(frozen=True)
class GradingOptions:
    cases_dir: Path = DEFAULT_CASES_DIR
    skip_mnist: bool = False
    mnist_dir: Path | None = None
    mnist_cache_dir: Path | None = None  # default: $GRADER_CACHE_DIR or ~/.cache/nn-grader/mnist
    mnist_fetch: bool = True  # False: only a directory or the cache, never download or npm
    slot: int = 0  # which sandbox user ids to use when several submissions run at once
    blas_threads: int = os.cpu_count() or 1
    parallel_sections: int = os.cpu_count() or 1  # process backend; the container runs them in turn
    backend: str = "process"  # "process" or "docker"
    image: str | None = None  # docker backend: None means grading.toml's [docker] image


def read_submission(path: Path) -> bytes:
    path = Path(path)
    if not path.exists():
        raise GradingError(f"submission {path} does not exist")
    if not path.is_file():
        raise GradingError(f"submission {path} is not a file (give the path to solution.py)")
    size = path.stat().st_size
    if size > MAX_SUBMISSION_BYTES:
        raise GradingError(f"submission {path} is {size} bytes; at most {MAX_SUBMISSION_BYTES}")
    return path.read_bytes()


def load_all_cases(cases_dir: Path) -> dict[str, list[tuple[str, Case]]]:
    """Every unit section's cases with their visibility; checks the expected outputs exist."""
    if not Path(cases_dir).is_dir():
        raise GradingError(f"test case directory {cases_dir} does not exist")
    cases: dict[str, list[tuple[str, Case]]] = {}
    try:
        for section in common.UNIT_SECTIONS:
            cases[section.name] = []
            for visibility in VISIBILITIES:
                tests_dir = Path(cases_dir) / visibility
                for case in common.load_cases(tests_dir, section):
                    expected = common.expected_dir(tests_dir, section) / f"{case.name}.npz"
                    if not expected.is_file():
                        raise CaseFileError(f"expected outputs {expected} are missing")
                    cases[section.name].append((visibility, case))
    except CaseFileError as error:
        raise GradingError(f"broken test cases: {error}") from None
    return cases


def _section_result(section: Section, cases: list[CaseResult], seconds: float, run: ChildRun,
                    failure: tuple[Verdict, str] | None = None, **extra) -> SectionResult:
    """Score a section: its points only when every case passed."""
    if failure is None:
        first = next((case for case in cases if case.verdict != Verdict.passed), None)
        failure = (first.verdict, first.message) if first else None
    verdict, message = failure or (Verdict.passed, "")
    passed = verdict == Verdict.passed
    return SectionResult(name=section.name, title=section.title,
                         points=section.points if passed else 0.0, max_points=section.points,
                         status=verdict, message=message, seconds=seconds, cases=cases,
                         output_tail="" if passed else run.output_tail, **extra)


def _not_run(entries: list[tuple[str, str]], why: str = "") -> list[CaseResult]:
    return [CaseResult(name=name, visibility=visibility, verdict=Verdict.not_run, message=why)
            for visibility, name in entries]


def _read_child_status(run: ChildRun, out_dir: Path, limits: Limits,
                       entries: list[tuple[str, str]]) -> ChildStatus | tuple[Verdict, str, list]:
    """The child's status, or the section-wide failure that left none usable."""
    try:
        status = read_status(out_dir)
    except UnreadableOutput as error:
        return Verdict.unreadable, f"output unreadable: {error}", _not_run(entries)
    if status is not None and status.import_error:
        return (Verdict.import_error, f"solution.py could not be imported:\n{status.import_error}",
                _not_run(entries, "solution.py could not be imported"))
    if status is None or (not status.cases and not status.finished):
        verdict, message = process_end_verdict(run, limits.timeout_seconds,
                                               "while importing solution.py")
        return verdict, message, _not_run(entries)
    return status


def judge_unit_section(section: Section, cases: list[tuple[str, Case]], run: ChildRun,
                       out_dir: Path, cases_dir: Path, limits: Limits) -> SectionResult:
    """Verdicts of a unit section from how its child ended (``run``) and what it left in
    ``out_dir``, against the expected outputs in ``cases_dir``; shared by both backends."""
    entries = [(visibility, case.name) for visibility, case in cases]
    status = _read_child_status(run, out_dir, limits, entries)
    if not isinstance(status, ChildStatus):
        verdict, message, results = status
        return _section_result(section, results, run.seconds, run, (verdict, message))
    records = {(record.visibility, record.name): record for record in status.cases}
    results = []
    for visibility, case in cases:
        record = records.get((visibility, case.name))
        if record is None:
            results.append(CaseResult(name=case.name, visibility=visibility, verdict=Verdict.not_run,
                                      message="not run: an earlier case stopped the section"))
        elif record.status == "running":
            verdict, message = process_end_verdict(run, limits.timeout_seconds, f"in case {case.name}")
            results.append(CaseResult(name=case.name, visibility=visibility, verdict=verdict,
                                      message=f"case {case.name} ({case.description}): {message}"))
        else:
            results.append(judge_case(case, record, out_dir, Path(cases_dir) / visibility, section))
    return _section_result(section, results, run.seconds, run)


def judge_mnist_section(section: Section, run: ChildRun, out_dir: Path, inputs: MnistInputs,
                        limits: MnistLimits) -> SectionResult:
    """The MNIST verdict from the child's predictions in ``out_dir`` and the labels kept here."""
    details = inputs.details(limits)
    entries = [("hidden", "mnist")]
    status = _read_child_status(run, out_dir, limits, entries)
    if not isinstance(status, ChildStatus):
        verdict, message, results = status
        return _section_result(section, results, run.seconds, run, (verdict, message), mnist=details)
    record = status.cases[0] if status.cases else None
    details.seconds = record.seconds if record else run.seconds
    details.train_seconds = record.train_seconds if record else None
    if record is None or record.status == "running":
        failure = process_end_verdict(run, limits.timeout_seconds, "while training")
    elif record.status == "exception":
        failure = (exception_verdict(record), f"train_mnist_model failed:\n{record.error}")
    else:
        try:
            predicted = read_arrays(out_dir / MNIST_PREDICTIONS)["predicted"]
            details.accuracy = common.check_mnist_accuracy(predicted, inputs.test_labels)
        except (UnreadableOutput, KeyError, ValueError) as error:
            failure = (Verdict.unreadable, f"predictions unreadable: {error}")
        else:
            failure = None if details.accuracy > limits.min_accuracy else (
                Verdict.wrong_answer, f"final test accuracy {details.accuracy:.4f} is not above "
                                      f"{limits.min_accuracy:.2f}")
    result = CaseResult(name="mnist", visibility="hidden",
                        verdict=failure[0] if failure else Verdict.passed,
                        message=failure[1] if failure else "", seconds=details.seconds)
    return _section_result(section, [result], run.seconds, run, failure, mnist=details)


def prepare_section(base: Path, section: Section, source: bytes, cases_dir: Path, limits: Limits,
                    isolation: Isolation, slot: int = 0, hidden_paths: list[str] | None = None,
                    extra_files: dict[str, Path] | None = None,
                    mnist: dict | None = None) -> SectionWorkspace:
    """Lay out one section's workspace (trusted files, the solution, inputs) and its spec.

    Shared by the process backend and the container entry (``grader.container_entry``):
    ``mnist`` names the training arrays and test images (relative to the workspace, or
    absolute), ``hidden_paths`` are covered in the child's mount namespace.
    """
    uid = (SANDBOX_UID_BASE + slot * len(common.SECTIONS) + section.index
           if isolation.drops_privileges else None)
    workspace = create_section_workspace(base, section, source, cases_dir, list(VISIBILITIES),
                                         extra_files, uid)
    write_spec(workspace, {
        "section": section.name, "workdir": str(workspace.workdir),
        "out_dir": str(workspace.out_dir), "limits": limits.model_dump(),
        "tests_dirs": {v: str(workspace.tests_dir(v)) for v in VISIBILITIES},
        "hide_paths": hidden_paths or [], "sandbox_uid": uid,
        "private_mounts": isolation.mode == "namespaces", "mnist": mnist})
    return workspace


def run_section(workspace: SectionWorkspace, limits: Limits, blas_threads: int,
                isolation: Isolation) -> ChildRun:
    """Run a prepared section's child under its limits; nothing of it is left running."""
    return run_child(workspace.spec_path, workspace.workdir, limits, blas_threads, isolation)


class SubmissionGrader:
    """Grades one submission with the process backend: owns its temporary directory and runs."""

    def __init__(self, source: bytes, options: GradingOptions, config: GradingConfig,
                 isolation: Isolation, base: Path):
        self.source, self.options, self.config = source, options, config
        self.isolation, self.base = isolation, base

    def _hidden_paths(self, extra: list[Path]) -> list[str]:
        if self.isolation.mode != "namespaces":
            return []
        # the repository's history holds the reference solution and expected outputs too
        secrets = [self.options.cases_dir, DEFAULT_CASES_DIR, REFERENCE_DIR / "solution.py",
                   REPO_DIR / ".git", *extra]
        return [str(Path(path).resolve()) for path in secrets]

    def _run(self, section: Section, limits: Limits, blas_threads: int, hidden: list[Path],
             extra_files: dict[str, Path] | None = None,
             mnist: dict | None = None) -> tuple[ChildRun, Path]:
        workspace = prepare_section(self.base, section, self.source, self.options.cases_dir, limits,
                                    self.isolation, self.options.slot, self._hidden_paths(hidden),
                                    extra_files, mnist)
        return run_section(workspace, limits, blas_threads, self.isolation), workspace.out_dir

    def grade_unit(self, section: Section, cases: list[tuple[str, Case]]) -> SectionResult:
        run, out_dir = self._run(section, self.config.unit, 1, [])
        return judge_unit_section(section, cases, run, out_dir, self.options.cases_dir,
                                  self.config.unit)

    def grade_mnist(self, section: Section) -> SectionResult:
        inputs = prepare_mnist_inputs(self.options.mnist_dir, self.options.blas_threads,
                                      self.options.mnist_cache_dir, self.options.mnist_fetch)
        files = {"mnist_train.npz": inputs.train_path, "mnist_test_images.npy": inputs.test_images_path}
        mnist = {"train": "mnist_train.npz", "test_images": "mnist_test_images.npy"}
        run, out_dir = self._run(section, self.config.mnist, self.options.blas_threads,
                                 [inputs.secret_dir], files, mnist)
        return judge_mnist_section(section, run, out_dir, inputs, self.config.mnist)


def _grade_with_processes(source: bytes, options: GradingOptions, config: GradingConfig,
                          cases: dict[str, list[tuple[str, Case]]],
                          on_section: Callable[[SectionResult], None] | None
                          ) -> tuple[list[SectionResult], SandboxInfo]:
    """The process backend: each section in a sandboxed child process of this one."""
    isolation = detect_isolation()
    sections: list[SectionResult] = []

    def done(result: SectionResult) -> None:
        sections.append(result)
        if on_section:
            on_section(result)

    with tempfile.TemporaryDirectory(prefix="nn-grader-") as base:
        grader = SubmissionGrader(source, options, config, isolation, Path(base))
        pool = ThreadPoolExecutor(max_workers=max(1, options.parallel_sections))
        futures = []
        try:
            futures += [pool.submit(grader.grade_unit, section, cases[section.name])
                        for section in common.UNIT_SECTIONS]
            for future in futures:
                done(future.result())
            mnist_section = common.SECTIONS_BY_NAME["mnist"]
            done(skipped_section(mnist_section) if options.skip_mnist
                 else grader.grade_mnist(mnist_section))
        except BaseException:  # Ctrl-C: no child may outlive the grader or its temp files
            pool.shutdown(wait=False, cancel_futures=True)
            while not all(future.done() for future in futures):  # a child may start meanwhile
                kill_running_children()
                time.sleep(0.05)
            raise
        finally:
            pool.shutdown(wait=True)
    sandbox = SandboxInfo(backend="process", isolation=isolation.mode,
                          network_cut=isolation.network_cut, secrets_hidden=isolation.can_hide_paths,
                          sandbox_uid=SANDBOX_UID_BASE if isolation.drops_privileges else None,
                          notes=isolation.notes)
    return sections, sandbox


def skipped_section(section: Section) -> SectionResult:
    return SectionResult(name=section.name, title=section.title, points=0.0,
                         max_points=section.points, status=Verdict.skipped,
                         message="skipped (--skip-mnist)")


def grade_submission(submission: Path, options: GradingOptions = GradingOptions(),
                     on_section: Callable[[SectionResult], None] | None = None) -> GradingReport:
    """Grade ``submission`` (a ``solution.py``) on every section; never raises on its behalf.

    ``options.backend`` chooses where the sections run: ``process`` (sandboxed child
    processes of this one) or ``docker`` (one container per submission, see
    ``grader.docker_backend``); both judge here with the same functions.
    """
    started = time.perf_counter()
    if options.backend not in BACKENDS:
        raise GradingError(f"unknown backend {options.backend!r}; use one of {', '.join(BACKENDS)}")
    source = read_submission(submission)
    config = load_config(options.cases_dir)
    cases = load_all_cases(options.cases_dir)
    if options.backend == "docker":
        from grader import docker_backend

        sections, sandbox = docker_backend.grade_in_container(source, options, config, cases,
                                                              on_section)
    else:
        sections, sandbox = _grade_with_processes(source, options, config, cases, on_section)
    warnings = check_modifications(source.decode("utf-8", errors="replace"),
                                   (REFERENCE_DIR / "solution.py").read_text(encoding="utf-8"))
    if warnings and config.policy.fail_on_modified_code:
        for section in sections:
            section.points = 0.0
        warnings.append("the submission fails: given code was modified "
                        "(policy.fail_on_modified_code = true)")
    return GradingReport(
        submission=str(submission), total=sum(s.points for s in sections),
        max_total=sum(s.points for s in common.SECTIONS), sections=sections, warnings=warnings,
        sandbox=sandbox, seconds=round(time.perf_counter() - started, 3), grader_version=__version__)
