"""The MNIST section: train within the time limit; the host scores the predictions.

The box trains and predicts (``mnist_child``, with the training arrays and the test
images as read-only data files); the test labels stay on the host, which alone
computes the accuracy.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from grader.boxes.session import BoxOutcome, RunOutcome
from grader.config import IDLE_CPU_SHARE, GradingConfig, MnistLimits
from grader.options import GradingOptions
from grader.paths import REFERENCE_DIR
from grader.reports.model import CaseResult, MnistDetails, SectionResult, Verdict
from grader.sections import mnist_child
from grader.sections.base import CasesError, SectionKind, import_failure
from grader.sections.judge import (
    UnreadableOutput,
    box_failure_verdict,
    exception_verdict,
    read_arrays,
    run_end_verdict,
)
from reference import common
from reference.common import Section

if TYPE_CHECKING:
    from grader.boxes.protocol import RunSpec
    from grader.mnist import MnistInputs

PROGRESS_SECONDS = 2.0
CHANCE_LEVEL = 0.2  # accuracy of a model that did not learn: about one digit in ten


class MnistSection(SectionKind):
    """Train on MNIST within the time limit; the host scores the predictions with the labels.

    The limit holds on the course's grading machine. Here it is a budget of CPU time for
    the whole box, import included: the limit, times the BLAS threads the box is given,
    times the calibration factor of this machine (``grader.mnist.calibration``). CPU time, not wall
    time: a loaded machine stretches the wall clock, not the work. A wall-clock guard
    (``wall_guard_factor`` times the calibrated limit) bounds the box whatever happens; a run
    that stops computing (sleeping, blocked) is stopped sooner, after ``idle_seconds``."""

    box_key = "mnist"
    entry = mnist_child.ENTRY

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
    def secret_files(cls, section: Section, config: GradingConfig, options: GradingOptions
                     ) -> list[Path]:
        """The test labels of every data set in the cache."""
        from grader.mnist.cache import label_files

        return label_files(options.mnist_cache_dir)

    @classmethod
    def skip_reason(cls, options: GradingOptions) -> str | None:
        return "skipped (--skip-mnist)" if options.skip_mnist else None

    def blas_threads(self) -> int:
        return self.inputs.blas_threads

    def runs(self) -> list[RunSpec]:
        return [self.run_spec("public", math.ceil(self.cpu_budget),
                              timeout_seconds=self.total_seconds,
                              progress_seconds=PROGRESS_SECONDS,
                              idle_seconds=self.limits.idle_seconds,
                              idle_cpu_share=IDLE_CPU_SHARE)]

    def runtime_files(self) -> dict[str, Path]:
        """Its entry point's module, and the course's preprocessing beside the framework."""
        return {**super().runtime_files(), "mnist_data.py": REFERENCE_DIR / "mnist_data.py"}

    def data_files(self) -> dict[str, Path]:
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
        frame, payload = run.cases.get(mnist_child.CASE, (None, b""))
        if frame is not None:
            details.seconds = frame.seconds
            details.train_seconds = frame.figures.get(mnist_child.TRAIN_SECONDS)
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
        elif frame.raised:
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
            predicted = read_arrays(payload)[mnist_child.PREDICTIONS]
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
