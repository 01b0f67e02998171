"""Benchmarks (not run by default): ``python -m pytest bench -o addopts="" --benchmark-only``.

Side by side in one run, so the ratios hold on a noisy machine:
- grading the six unit sections of a correct submission (process backend);
- one bare ``python -c "import numpy"``, the floor of any child process;
- the same grading through the Docker backend (skipped without an engine and image).
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from grader.docker_backend import docker_unavailable
from grader.grading import GradingOptions, grade_submission
from tests.grading_fixtures import REFERENCE_SOLUTION

UNIT_ONLY = GradingOptions(skip_mnist=True)
UNIT_ONLY_DOCKER = GradingOptions(skip_mnist=True, backend="docker")


def test_bare_numpy_import(benchmark):
    benchmark(subprocess.run, [sys.executable, "-c", "import numpy"], check=True)


def test_grade_unit_sections_process_backend(benchmark):
    report = benchmark(grade_submission, REFERENCE_SOLUTION, UNIT_ONLY)
    assert report.total == 4.0


@pytest.mark.docker
def test_grade_unit_sections_docker_backend(benchmark):
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    report = benchmark(grade_submission, REFERENCE_SOLUTION, UNIT_ONLY_DOCKER)
    assert report.total == 4.0 and report.sandbox.backend == "docker"
