"""The kinds of section: each owns its limits, its runs, what its box holds and its judging.

``unit`` sections (ReLU ... SGDMomentum) run their public and their hidden
cases in a child each, all six sections in one shared box; ``mnist`` trains
in a box of its own whose time limit covers everything from the box's start.
A new kind is a new class here and an entry in ``KINDS``; nothing else
branches on a section's name or kind.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.boxes.protocol import INPUTS_SUBDIR, MNIST, MNIST_PREDICTIONS, UNIT, RunSpec
from grader.boxes.session import BoxOutcome, RunOutcome
from grader.config import GradingConfig, Limits, MnistLimits, UnitLimits
from grader.options import GradingOptions
from grader.reports.model import CaseResult, MnistDetails, SectionResult, Verdict
from grader.reports.untrusted_text import as_displayed
from grader.sections.diagnosis import missing_module_hint
from grader.sections.judge import (
    UnreadableOutput,
    box_failure_verdict,
    exception_verdict,
    judge_unit_run,
    read_arrays,
    run_end_verdict,
)
from reference import common
from reference.common import Case, CaseFileError, Section

if TYPE_CHECKING:
    from grader.mnist import MnistInputs

VISIBILITIES = ("public", "hidden")
PROGRESS_SECONDS = 2.0
CHANCE_LEVEL = 0.2  # accuracy of a model that did not learn: about one digit in ten


class CasesError(Exception):
    """The test cases or the MNIST data cannot be used (not the student's fault)."""


def import_failure(outcome: BoxOutcome) -> tuple[Verdict, str] | None:
    """A failure of the box's one import of solution.py, shared by all its sections."""
    imported = outcome.imported
    if imported is not None and imported.ok:
        return None
    if imported is not None:
        hint = missing_module_hint(imported.error, outcome.allowed_packages)
        return Verdict.import_error, "\n".join(
            [f"solution.py could not be imported:\n{imported.error}", *filter(None, [hint])])
    failure = outcome.failure
    if failure is None:  # pragma: no cover - a box ends with a failure or an import
        return Verdict.exited, "the box ended without importing solution.py"
    return box_failure_verdict(failure, outcome, "while importing solution.py")


class SectionKind(ABC):
    """One graded section of one grading."""

    box_key: str                    # sections with the same key share a box
    total_seconds: float | None = None  # a wall-clock limit on the whole box, import included
    cpu_budget: float | None = None     # a CPU-time limit on the whole box, import included

    def __init__(self, section: Section, limits: Limits):
        self.section, self.limits = section, limits

    @classmethod
    @abstractmethod
    def create(cls, section: Section, config: GradingConfig, options: GradingOptions
               ) -> SectionKind:
        """The section for one grading (reading its cases, preparing its data)."""

    @classmethod
    def skip_reason(cls, options: GradingOptions) -> str | None:
        """Why ``options`` skip sections of this kind, or None."""
        return None

    @property
    def name(self) -> str:
        return self.section.name

    def blas_threads(self) -> int:
        return 1

    def run_spec(self, visibility: str, kind: str, cpu_seconds: int, **extra) -> RunSpec:
        limits = self.limits
        return RunSpec(section=self.name, kind=kind, visibility=visibility,
                       cpu_seconds=cpu_seconds, memory_mb=limits.memory_mb,
                       max_processes=limits.max_processes,
                       max_file_size_mb=limits.max_file_size_mb,
                       max_output_kb=limits.max_output_kb,
                       **{"timeout_seconds": limits.timeout_seconds, **extra})

    @abstractmethod
    def runs(self) -> list[RunSpec]:
        """The supervisor's runs for this section, in order."""

    def files(self, visibility: str) -> dict[str, bytes]:
        """The inputs of the ``visibility`` cases, by path in the box."""
        return {}

    def mnist_files(self) -> dict[str, Path]:
        """Host files the box mounts read-only."""
        return {}

    @abstractmethod
    def judge(self, outcome: BoxOutcome, runs: list[RunOutcome]) -> SectionResult:
        """The section's result from its runs (``runs`` are those of ``self.runs()``)."""

    def judge_ended(self, runs: list[RunOutcome]) -> SectionResult | None:
        """What ``judge`` will give, worked out while the box still runs, from ``runs`` that
        have all ended after solution.py was imported; None when only the box's end can say."""
        return None

    def result(self, cases: list[CaseResult], seconds: float, runs: list[RunOutcome],
               failure: tuple[Verdict, str, str] | None = None, **extra) -> SectionResult:
        """Score: the points only when every case passed. ``failure`` is (verdict, message,
        scope) of a failure of the whole section; otherwise the first failing case decides."""
        if failure is None:
            first = next((case for case in cases if case.verdict != Verdict.passed), None)
            failure = (first.verdict, first.message, first.visibility) if first else None
        verdict, message, scope = failure or (Verdict.passed, "", None)
        passed = verdict == Verdict.passed
        tails = {} if passed else {run.spec.visibility: as_displayed(run.ended.output_tail)
                                   for run in runs if run.ended and run.ended.output_tail}
        return SectionResult(name=self.name, title=self.section.title,
                             points=self.section.points if passed else 0.0,
                             max_points=self.section.points, status=verdict, message=message,
                             failure_scope=scope, seconds=round(seconds, 3), cases=cases,
                             output_tails=tails, **extra)

    def skipped(self, reason: str) -> SectionResult:
        return SectionResult(name=self.name, title=self.section.title, points=0.0,
                             max_points=self.section.points, status=Verdict.skipped,
                             message=reason)


class UnitSection(SectionKind):
    """Cases with expected outputs: the box computes, the host compares."""

    box_key = UNIT

    limits: UnitLimits

    def __init__(self, section: Section, limits: UnitLimits, cases_dir: Path):
        super().__init__(section, limits)
        self.cases_dir = Path(cases_dir)
        self.cases: dict[str, list[Case]] = {}
        # read now, while the box runs, not once it has ended
        self.expected: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        try:
            for visibility in VISIBILITIES:
                tests_dir = self.cases_dir / visibility
                self.cases[visibility] = common.load_cases(tests_dir, section)
                self.expected[visibility] = {case.name: self.load_expected(tests_dir, case)
                                             for case in self.cases[visibility]}
        except CaseFileError as error:
            raise CasesError(str(error)) from None

    def load_expected(self, tests_dir: Path, case: Case) -> dict[str, np.ndarray]:
        path = common.expected_dir(tests_dir, self.section) / f"{case.name}.npz"
        if not path.is_file():
            raise CaseFileError(f"expected outputs {path} are missing")
        return common.load_expected(tests_dir, self.section, case)

    @classmethod
    def create(cls, section: Section, config: GradingConfig, options: GradingOptions
               ) -> UnitSection:
        return cls(section, config.unit, options.cases_dir)

    def runs(self) -> list[RunSpec]:
        return [self.run_spec(visibility, UNIT, self.limits.cpu_seconds,
                              input_dir=common.input_dir(Path(), self.section).name)
                for visibility in VISIBILITIES if self.cases[visibility]]

    def files(self, visibility: str) -> dict[str, bytes]:
        source = common.input_dir(self.cases_dir / visibility, self.section)
        return {f"{INPUTS_SUBDIR}/{visibility}/{source.name}/{path.name}": path.read_bytes()
                for path in sorted(source.iterdir()) if path.is_file()}

    def judge(self, outcome: BoxOutcome, runs: list[RunOutcome]) -> SectionResult:
        failure = import_failure(outcome)
        if failure is None:
            return self.judged(runs, outcome)
        cases = [CaseResult(name=case.name, visibility=visibility, verdict=Verdict.not_run,
                            message="not run: solution.py could not be imported")
                 for visibility in VISIBILITIES for case in self.cases[visibility]]
        return self.result(cases, self.seconds(runs), runs, (*failure, "section"))

    def judge_ended(self, runs: list[RunOutcome]) -> SectionResult:
        return self.judged(runs, None)

    def judged(self, runs: list[RunOutcome], outcome: BoxOutcome | None) -> SectionResult:
        """Every case of ``runs``; ``outcome`` explains the runs that did not end."""
        cases = []
        for run in runs:
            visibility = run.spec.visibility
            tests_dir = self.cases_dir / visibility
            cases += judge_unit_run(
                self.section, run, self.cases[visibility], outcome, self.expected[visibility],
                lambda case, tests_dir=tests_dir: common.load_inputs(tests_dir, self.section, case),
                self.limits.cpu_seconds, self.limits.memory_mb)
        return self.result(cases, self.seconds(runs), runs)

    @staticmethod
    def seconds(runs: list[RunOutcome]) -> float:
        return sum(run.ended.seconds for run in runs if run.ended)


class MnistSection(SectionKind):
    """Train on MNIST within the time limit; the host scores the predictions with the labels.

    The limit holds on the course's grading machine. Here it is a budget of CPU time for
    the whole box, import included: the limit, times the BLAS threads the box is given,
    times the calibration factor of this machine (``grader.mnist.calibration``). CPU time, not wall
    time: a loaded machine stretches the wall clock, not the work. A wall-clock guard
    (``wall_guard_factor`` times the calibrated limit) bounds the box whatever happens; a run
    that stops computing (sleeping, blocked) is stopped sooner, after ``idle_seconds``."""

    box_key = MNIST

    def __init__(self, section: Section, limits: MnistLimits, inputs: MnistInputs,
                 factor: float = 1.0, calibration: str = ""):
        super().__init__(section, limits)
        self.inputs, self.factor, self.calibration = inputs, factor, calibration
        self.cpu_budget = limits.timeout_seconds * inputs.blas_threads * factor
        self.total_seconds = limits.timeout_seconds * limits.wall_guard_factor * factor

    @classmethod
    def create(cls, section: Section, config: GradingConfig, options: GradingOptions
               ) -> MnistSection:
        from grader.mnist import MnistDataError, prepare_mnist_inputs
        from grader.mnist.calibration import factor as calibration_factor  # MNIST gradings only

        threads = options.blas_threads or config.mnist.blas_threads
        try:
            inputs = prepare_mnist_inputs(options.mnist_dir, threads, options.mnist_cache_dir,
                                          options.mnist_fetch)
        except MnistDataError as error:
            raise CasesError(str(error)) from None
        factor, calibration = calibration_factor(config.calibration.reference_seconds,
                                                 config.calibration.reference_machine)
        return cls(section, config.mnist, inputs, factor, calibration)

    @classmethod
    def skip_reason(cls, options: GradingOptions) -> str | None:
        return "skipped (--skip-mnist)" if options.skip_mnist else None

    def blas_threads(self) -> int:
        return self.inputs.blas_threads

    def runs(self) -> list[RunSpec]:
        return [self.run_spec("public", MNIST, math.ceil(self.cpu_budget),
                              timeout_seconds=self.total_seconds,
                              progress_seconds=PROGRESS_SECONDS,
                              idle_seconds=self.limits.idle_seconds)]

    def mnist_files(self) -> dict[str, Path]:
        return {"train": self.inputs.train_path, "test_images": self.inputs.test_images_path}

    def details(self, outcome: BoxOutcome) -> MnistDetails:
        inputs, failure = self.inputs, outcome.failure
        return MnistDetails(
            dataset=inputs.name, dataset_source=inputs.source, train_size=inputs.train_size,
            test_size=inputs.test_size, min_accuracy=self.limits.min_accuracy,
            time_limit_seconds=self.limits.timeout_seconds, blas_threads=inputs.blas_threads,
            box_seconds=outcome.seconds, cpu_seconds=outcome.exit.cpu_seconds,
            cpu_budget_seconds=round(self.cpu_budget, 1),
            wall_guard_seconds=round(self.total_seconds, 1), calibration_factor=self.factor,
            calibration=self.calibration,
            decided_by=failure.measure if failure and failure.kind == "timeout" else "cpu")

    def judge(self, outcome: BoxOutcome, runs: list[RunOutcome]) -> SectionResult:
        (run,) = runs
        details = self.details(outcome)
        frame, payload = run.cases.get("mnist", (None, b""))
        if frame is not None:
            details.seconds, details.train_seconds = frame.seconds, frame.train_seconds
        failure = import_failure(outcome)
        if failure is not None:
            case = CaseResult(name="mnist", visibility="public", verdict=Verdict.not_run,
                              message="not run: solution.py could not be imported")
            return self.result([case], outcome.seconds, runs, (*failure, "section"),
                               mnist=details)
        if frame is None and run.ended is not None:
            failure = run_end_verdict(run.ended, math.ceil(self.cpu_budget), self.limits.memory_mb,
                                      run.oom_kills, "while training")
            if failure[0] == Verdict.cpu_limit:  # without a cgroup, RLIMIT_CPU holds the budget
                failure, details.decided_by = (Verdict.timeout, failure[1]), "cpu"
            elif failure[0] == Verdict.idle:
                details.decided_by = "idle"
        elif frame is None:
            failure = box_failure_verdict(outcome.failure, outcome, "while training")
        elif frame.status == "exception":
            failure = exception_verdict(frame), f"train_mnist_model failed:\n{frame.error}"
        else:
            failure = self.score(payload, details)
        verdict, message = failure or (Verdict.passed, "")
        case = CaseResult(name="mnist", visibility="public", verdict=verdict, message=message,
                          seconds=details.seconds)
        return self.result([case], outcome.seconds, runs, mnist=details)

    def score(self, payload: bytes, details: MnistDetails) -> tuple[Verdict, str] | None:
        """The accuracy of the predictions, against the labels only the host has."""
        try:
            predicted = read_arrays(payload)[MNIST_PREDICTIONS]
            details.accuracy = common.check_mnist_accuracy(predicted, self.inputs.test_labels)
        except (UnreadableOutput, KeyError, ValueError) as error:
            return Verdict.unreadable, f"predictions unreadable: {error}"
        if details.accuracy > self.limits.min_accuracy:
            return None
        message = (f"final test accuracy {details.accuracy:.4f} is not above "
                   f"{self.limits.min_accuracy:.2f}")
        if details.accuracy < CHANCE_LEVEL:
            message += ("; that is chance level (one digit in ten): the model did not learn "
                        "(check the gradients, the learning rate and that fit() is called)")
        return Verdict.wrong_answer, message


KINDS: dict[str, type[SectionKind]] = {UNIT: UnitSection, MNIST: MnistSection}
