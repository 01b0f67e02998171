"""Batch throughput (not run by default): ``python -m pytest bench/test_bench_batch.py -o
addopts="" --benchmark-only -s``.

A class of ``CLASS_SIZE`` submissions (correct ones and ones broken in one section; unit
sections only, --skip-mnist) graded by the whole ``grader batch`` command with --jobs 1,
--jobs 2, and through a local Dask cluster (a scheduler and two single-threaded workers
on 127.0.0.1), one after the other in one run. Target: 300 in 60 s or less on 2 cores.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.classroom import BROKEN, broken_source, reference_source
from tests.test_batch_class import dask_cluster  # noqa: F401  (a fixture)

CLASS_SIZE = 300


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench-class") / "class"
    folder.mkdir()
    broken = list(BROKEN)
    for number in range(CLASS_SIZE):
        source = reference_source() + f"\n# student {number}\n" if number % 2 else \
            broken_source(broken[number // 2 % len(broken)])
        (folder / f"student{number:03d}.py").write_text(source)
    return folder


def _per_minute(benchmark, folder: Path, out: Path, *extra: str) -> None:
    command = [sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out),
               "--skip-mnist", *extra]
    seconds: list[float] = []

    def run() -> None:
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)

    benchmark.pedantic(run, rounds=1, iterations=1)
    figures = {"submissions": CLASS_SIZE, "seconds": round(seconds[0], 1),
               "per_minute": round(CLASS_SIZE * 60 / seconds[0])}
    benchmark.extra_info.update(figures)
    print(f"\n{' '.join(extra)}: {figures}")


def test_batch_one_job(benchmark, class_folder, tmp_path):
    _per_minute(benchmark, class_folder, tmp_path / "out", "--jobs", "1")


def test_batch_two_jobs(benchmark, class_folder, tmp_path):
    _per_minute(benchmark, class_folder, tmp_path / "out", "--jobs", "2")


def test_batch_local_cluster(benchmark, class_folder, tmp_path, dask_cluster):  # noqa: F811
    address, _ = dask_cluster
    _per_minute(benchmark, class_folder, tmp_path / "out", "--cluster", address)
