"""What every kind of section is: its limits, its runs, what its box holds, its judging.

The kinds themselves are ``grader.sections.unit`` and ``grader.sections.mnist`` (each with
the code its runs execute in the box: ``unit_child``, ``mnist_child``), registered by name
in ``grader.sections.kinds``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from grader.boxes.base import runtime_module
from grader.boxes.protocol import RunSpec
from grader.boxes.session import BoxOutcome, RunOutcome
from grader.config import GradingConfig, Limits
from grader.options import GradingOptions
from grader.reports.model import CaseResult, SectionResult, Verdict
from grader.reports.untrusted_text import as_displayed
from grader.sections.diagnosis import missing_module_hint
from grader.sections.judge import box_failure_verdict
from reference.common import Section

VISIBILITIES = ("public", "hidden")


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
    """One graded section of one grading. What its box needs it declares through generic
    fields, and the box knows no more: the runs (an entry point each, with limits), the
    runtime modules that hold the entry points, the input files, the read-only data files by
    role, and the box's time limits."""

    box_key: str                    # sections with the same key share a box
    entry: str                      # its runs' code in the box: "module:function" of the runtime
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
    def secret_files(cls, section: Section, config: GradingConfig, options: GradingOptions
                     ) -> list[Path]:
        """Host files of ``section`` no submission may read (a box that cannot hide the
        host's files reports those it could read), whether it is graded or skipped."""
        return []

    @classmethod
    def skip_reason(cls, options: GradingOptions) -> str | None:
        """Why ``options`` skip sections of this kind, or None."""
        return None

    @property
    def name(self) -> str:
        return self.section.name

    def blas_threads(self) -> int:
        return 1

    def run_spec(self, visibility: str, cpu_seconds: int, **extra) -> RunSpec:
        limits = self.limits
        return RunSpec(section=self.name, entry=self.entry, visibility=visibility,
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

    def runtime_files(self) -> dict[str, Path]:
        """The runtime modules its box needs beside the supervisor and the framework (path in
        the runtime -> host file): the module of its entry point."""
        return dict([runtime_module(self.entry.partition(":")[0])])

    def data_files(self) -> dict[str, Path]:
        """Host files the box holds read-only, by role (the child finds them in
        ``ChildRun.data``)."""
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
                             max_points=self.section.points, verdict=verdict, message=message,
                             failure_scope=scope, seconds=round(seconds, 3), cases=cases,
                             output_tails=tails, **extra)

    def skipped(self, reason: str) -> SectionResult:
        return SectionResult(name=self.name, title=self.section.title, points=0.0,
                             max_points=self.section.points, verdict=Verdict.skipped,
                             message=reason)
