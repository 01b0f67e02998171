"""The whole audit (not run by default): ``python -m pytest bench/test_bench_audit.py -o
addopts="" --benchmark-only -s``. Target: under 2 minutes on 2 cores."""
from __future__ import annotations

import subprocess
import sys
import time


def test_whole_audit(benchmark, tmp_path):
    seconds: list[float] = []

    def run() -> None:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grader", "audit", "--json",
                        str(tmp_path / "audit.json")], check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)

    benchmark.pedantic(run, rounds=3, iterations=1)
    figures = {"seconds_min": round(min(seconds), 1), "seconds_max": round(max(seconds), 1)}
    benchmark.extra_info.update(figures)
    print(f"\nwhole audit: {figures}")
