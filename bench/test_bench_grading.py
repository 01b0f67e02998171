"""Benchmarks (not run by default): ``python -m pytest bench -o addopts="" --benchmark-only -s``.

Side by side in one run, pair by pair, so the ratio holds on a noisy machine:
``grader grade reference/solution.py --skip-mnist`` (the whole command: its box,
its judging, its report) against the same checks with no sandbox in one
process, the students' ``./run.py unittest all`` in a copy of the template
holding the reference solution. Also the library call alone, and the Docker
box (skipped without an engine and the image). Both commands run as on a
student's or an instructor's machine: Python caches their bytecode (a
``PYTHONDONTWRITEBYTECODE`` of the calling shell is not passed on), and the
first pair, not counted, writes it.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

import pytest

from grader.boxes.base import BoxUnavailable
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from tests.grading_fixtures import REFERENCE_SOLUTION, TEMPLATE_SOLUTION

PAIRS = 15
GRADE = [sys.executable, "-m", "grader", "grade", str(REFERENCE_SOLUTION), "--skip-mnist"]


AS_USED = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _seconds(command: list[str], cwd=None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=AS_USED)
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def template_with_reference(tmp_path_factory):
    copy = tmp_path_factory.mktemp("template") / "template"
    shutil.copytree(TEMPLATE_SOLUTION.parent, copy)
    shutil.copyfile(REFERENCE_SOLUTION, copy / "solution.py")
    return copy


def test_grade_command_against_run_py_in_one_process(benchmark, template_with_reference):
    run_py = [sys.executable, "run.py", "unittest", "all"]
    _seconds(GRADE), _seconds(run_py, template_with_reference)  # warm both
    grader, plain = [], []

    def pair() -> None:
        grader.append(_seconds(GRADE))
        plain.append(_seconds(run_py, template_with_reference))

    benchmark.pedantic(pair, rounds=PAIRS, iterations=1)
    ratios = sorted(g / p for g, p in zip(grader, plain))
    figures = {"grader_median_s": round(statistics.median(grader), 3),
               "run_py_median_s": round(statistics.median(plain), 3),
               "ratio_median": round(statistics.median(ratios), 2),
               "ratio_min": round(ratios[0], 2), "ratio_max": round(ratios[-1], 2)}
    benchmark.extra_info.update(figures)
    print(f"\n{figures}")


def test_grade_unit_sections_library_call(benchmark):
    report = benchmark(grade_submission, REFERENCE_SOLUTION, GradingOptions(skip_mnist=True))
    assert report.total == 4.0


@pytest.mark.docker
def test_grade_unit_sections_docker_box(benchmark):
    from grader.boxes.docker import DockerBox
    from grader.config import DockerSettings

    try:
        DockerBox(DockerSettings().image, DockerSettings())
    except BoxUnavailable as error:
        pytest.skip(str(error))
    report = benchmark(grade_submission, REFERENCE_SOLUTION,
                       GradingOptions(skip_mnist=True, box="docker"))
    assert report.total == 4.0 and report.sandbox.box == "docker"
