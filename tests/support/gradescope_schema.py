"""Gradescope's documented results.json fields (autograder specifications), nothing else."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]
Format = Literal["text", "html", "simple_format", "md", "ansi"]


class Documented(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class Test(Documented):
    score: float | None = None
    max_score: float | None = None
    status: Literal["passed", "failed"] | None = None
    name: str | None = None
    name_format: Format | None = None
    number: str | None = None
    output: str | None = None
    output_format: Format | None = None
    tags: list[str] | None = None
    visibility: Visibility | None = None
    extra_data: dict | None = None


class LeaderboardEntry(Documented):
    name: str
    value: float | int | str
    order: Literal["asc", "desc"] | None = None


class Results(Documented):
    score: float | None = None
    execution_time: int | None = None
    output: str | None = None
    output_format: Format | None = None
    test_output_format: Format | None = None
    test_name_format: Format | None = None
    visibility: Visibility | None = None
    stdout_visibility: Visibility | None = None
    extra_data: dict | None = None
    tests: list[Test] | None = None
    leaderboard: list[LeaderboardEntry] | None = None
