"""A class of 60 generated submissions (correct, broken in one section, hostile): graded in
parallel, after a kill -9, and on a local Dask cluster losing a worker, each gets exactly
the points it gets when graded alone."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.batch.store import DATABASE_FILE
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from tests.grading_fixtures import cases_with_limits
from tests.support.classroom import write_class

pytestmark = pytest.mark.slow
CLASS_SIZE = 60
LIMITS = "[unit]\ntimeout_seconds = 3\n\n[box]\nimport_timeout_seconds = 3\n"
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def area(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("class")


@pytest.fixture(scope="module")
def cases(area) -> Path:
    return cases_with_limits(area / "cases", LIMITS)


@pytest.fixture(scope="module")
def submissions(area) -> Path:
    write_class(area / "submissions", CLASS_SIZE)
    return area / "submissions"


@pytest.fixture(scope="module")
def alone(submissions, cases) -> dict[str, float]:
    """Each submission graded on its own, one after the other."""
    options = GradingOptions(cases_dir=cases, skip_mnist=True)
    return {path.stem: grade_submission(path, options).total
            for path in sorted(submissions.glob("*.py"))}


def batch(submissions: Path, out: Path, cases: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "batch", str(submissions), "--out",
                             str(out), "--skip-mnist", "--cases", str(cases), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stdout + stderr
    return stdout


def rows(out: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(out / DATABASE_FILE) as db:
        return db.execute("SELECT student, total FROM gradings ORDER BY id").fetchall()


def wait_for_rows(out: Path, count: int, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (out / DATABASE_FILE).exists() and len(rows(out)) >= count:
                return
        except sqlite3.OperationalError:  # the batch is creating its tables
            pass
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} gradings in {seconds} s")


def test_two_jobs_give_each_submission_its_points_alone(area, submissions, cases, alone):
    out = area / "two-jobs"
    finish(batch(submissions, out, cases, "--jobs", "2"))
    assert dict(rows(out)) == alone
    assert len(rows(out)) == CLASS_SIZE
    kinds = {name.split("-")[1] for name in alone}
    assert kinds == {"correct", "broken", "hostile"}
    assert min(alone.values()) == 0 and max(alone.values()) == 4  # the class is not uniform


def test_kill_9_midway_then_the_same_command_resumes(area, submissions, cases, alone):
    out = area / "killed"
    process = batch(submissions, out, cases, "--jobs", "2")
    wait_for_rows(out, CLASS_SIZE // 3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = rows(out)
    assert CLASS_SIZE // 3 <= len(before) < CLASS_SIZE
    stdout = finish(batch(submissions, out, cases, "--jobs", "2"))
    assert f"{len(before)} already had a result" in stdout
    after = rows(out)
    assert after[:len(before)] == before  # nothing finished was lost or rewritten
    students = [student for student, _ in after]
    assert len(students) == len(set(students)) == CLASS_SIZE  # none graded twice
    assert dict(after) == alone


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(*command: str) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def dask_cluster():
    """A scheduler and two single-threaded workers, separate processes on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start(str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                      "--no-dashboard")
    workers = [start(str(DASK), "worker", address, "--nthreads", "1", "--name", f"w{number}",
                     "--no-dashboard", "--host", "127.0.0.1") for number in (1, 2)]
    yield address, workers
    for process in workers + [scheduler]:
        stop(process)


def test_a_local_cluster_loses_a_worker_and_nothing_else(area, submissions, cases, alone,
                                                         dask_cluster):
    address, workers = dask_cluster
    out = area / "cluster"
    process = batch(submissions, out, cases, "--cluster", address)
    wait_for_rows(out, CLASS_SIZE // 4)
    stop(workers[0])  # a grading machine lost mid-grading, its tasks with it
    finish(process)
    graded = rows(out)
    assert len(graded) == CLASS_SIZE and dict(graded) == alone
    with sqlite3.connect(out / DATABASE_FILE) as db:
        where = {worker for (worker,) in db.execute("SELECT DISTINCT worker FROM gradings")}
    assert len(where) == 2  # both workers graded before one was lost


def test_ctrl_c_stops_every_box_and_the_same_command_resumes(area, submissions, cases, alone):
    from tests.support.processes import descendants, wait_until_gone

    out = area / "interrupted"
    process = batch(submissions, out, cases, "--jobs", "2")
    wait_for_rows(out, CLASS_SIZE // 4)
    boxes = descendants(process.pid)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "stopped (Ctrl-C)" in stdout
    assert boxes and not wait_until_gone(boxes)  # no box outlives the batch
    before = rows(out)
    finish(batch(submissions, out, cases, "--jobs", "2"))
    assert rows(out)[:len(before)] == before and dict(rows(out)) == alone
