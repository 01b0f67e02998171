"""What ``grader audit`` found: per section, the mutation score, survivors, false fails."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MutantStatus = Literal["killed", "survived", "equivalent"]


class MutantResult(BaseModel):
    id: str
    section: str
    operator: str
    explanation: str
    line: int
    diff: str
    status: MutantStatus
    killed_by: str | None = Field(None, description="the first case that failed it "
                                  "(name and visibility)")
    probe: str | None = Field(None, description="survivors: a probe input that kills it, a "
                              "model for a new case")


class VariantResult(BaseModel):
    name: str
    section: str
    explanation: str
    passed: bool
    failures: list[str] = Field([], description="section: verdict and first failing case")


class SectionAudit(BaseModel):
    section: str
    mutants: int
    killed: int
    survived: int
    equivalent: int
    score: float | None = Field(description="killed / (killed + survived); None without mutants")
    false_fails: int
    passed: bool


class AuditReport(BaseModel):
    cases: str
    min_score: float
    sections: list[SectionAudit]
    false_fails: list[VariantResult] = Field(description="accepted variants the cases fail: "
                                             "reported first, they fail the audit")
    probe_problems: list[VariantResult] = Field([], description="accepted variants the probe "
                                                "set fails (equivalence is then unreliable)")
    survivors: list[MutantResult]
    mutants: list[MutantResult]
    variants: list[VariantResult]
    passed: bool
    seconds: float
