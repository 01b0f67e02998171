"""The job queue on both databases: atomic claims, leases, results written once, and
recorded once in the gradings table ``grader batch`` shares."""
from __future__ import annotations

import threading
import time

import pytest

from grader.gradings import latest_report
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import failed_report
from grader.reports.model import ErrorCause
from grader.serve import course, queue
from grader.serve.bridge import GradingReport
from grader.serve.db import open_database
from grader.serve.lanes import merge
from tests.support.site import ROSTER


def result(message: str, cause: ErrorCause = ErrorCause.submission) -> str:
    """A report (JSON) for a job: every section not run, ``message`` its error."""
    return failed_report("solution.py", message, cause, DEFAULT_CASES_DIR).model_dump_json()


GIVEN_UP = queue.Recording("cases", "grader", result("given up", ErrorCause.grader))


@pytest.fixture
def db(tmp_path, database_url):
    database = open_database(database_url, tmp_path)
    course.init_course(database, ROSTER, "password", "http://x", 1)
    yield database
    database.close()


def submit(db, student="alice", per_hour=1000) -> int:
    with db.transaction() as tx:
        return course.add_submission(tx, student, "solution.py", b"print(1)\n", per_hour)


def test_parallel_claims_take_each_job_exactly_once(db):
    for _ in range(20):
        submit(db)
    claimed, errors = [], []

    def claimer(number: int) -> None:
        try:
            while (job := queue.claim(db, queue.UNIT, f"w{number}", 60, GIVEN_UP)) is not None:
                claimed.append(job.id)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == 20 and len(set(claimed)) == 20


def test_an_expired_lease_puts_the_job_back_and_a_second_completion_is_ignored(db):
    submit(db)
    first = queue.claim(db, queue.UNIT, "killed-worker", 0.05, GIVEN_UP)
    assert queue.claim(db, queue.UNIT, "other", 60, GIVEN_UP) is None  # leased
    time.sleep(0.1)
    again = queue.claim(db, queue.UNIT, "other", 60, GIVEN_UP)
    assert again.id == first.id and again.attempts == 2
    assert not queue.renew(db, first.id, "killed-worker", 60)  # no longer its job
    assert queue.complete(db, again.id, result("first"), GIVEN_UP)
    assert not queue.complete(db, first.id, result("second"), GIVEN_UP)
    with db.transaction(write=False) as tx:
        assert tx.value("SELECT report FROM jobs WHERE id = ?", (first.id,)) == result("first")
        recorded = tx.all("SELECT student, worker, done FROM gradings")
    assert recorded == [{"student": "alice", "worker": "other", "done": 1}]  # once, the first


def test_a_job_interrupted_too_often_is_given_up_with_a_result(db):
    submit(db)
    for _ in range(queue.MAX_ATTEMPTS):
        assert queue.claim(db, queue.UNIT, "dies", 0.01, GIVEN_UP) is not None
        time.sleep(0.03)
    assert queue.claim(db, queue.UNIT, "next", 60, GIVEN_UP) is None
    with db.transaction(write=False) as tx:
        row = tx.one("SELECT state, report FROM jobs WHERE lane = ?", (queue.UNIT,))
    assert row == {"state": queue.DONE, "report": GIVEN_UP.given_up}
    with db.transaction(write=False) as tx:
        recorded = tx.all("SELECT worker, done, cases_digest, grader_version FROM gradings")
    assert recorded == [{"worker": "given up", "done": 0, "cases_digest": "cases",
                         "grader_version": "grader"}]  # a grader failure: not done


def test_a_newer_submission_supersedes_the_queued_mnist_run_only(db):
    older = submit(db)
    running = queue.claim(db, queue.MNIST, "w", 60, GIVEN_UP)  # older's MNIST has started
    middle = submit(db)
    newest = submit(db)
    submit(db, "bob")
    with db.transaction(write=False) as tx:
        lanes = queue.lanes_of(tx, [older, middle, newest])
        depth = queue.depth(tx)
    assert running.submission == older and lanes[older]["mnist"]["state"] == queue.RUNNING
    assert lanes[middle]["mnist"]["state"] == queue.SUPERSEDED
    assert lanes[newest]["mnist"]["state"] == queue.QUEUED
    assert all(lanes[n]["unit"]["state"] == queue.QUEUED for n in (older, middle, newest))
    assert depth[queue.MNIST] == {queue.QUEUED: 2, queue.RUNNING: 1}  # newest's and bob's


def test_the_hourly_limit_holds_under_parallel_uploads(db):
    accepted, refused = [], []

    def send() -> None:
        try:
            with db.transaction() as tx:
                accepted.append(course.add_submission(tx, "carol", "a.py", b"x = 1\n", 5))
        except course.RateLimited:
            refused.append(1)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 5 and len(refused) == 15


def test_each_finished_lane_records_the_submission_as_it_now_stands(db):
    """The unit lane's row leaves MNIST skipped; the MNIST lane's is the whole grading."""
    number = submit(db)
    unit = queue.claim(db, queue.UNIT, "unit-worker", 60, GIVEN_UP)
    mnist = queue.claim(db, queue.MNIST, "mnist-worker", 60, GIVEN_UP)
    unit_report = result("unit lane", ErrorCause.grader)
    assert queue.complete(db, unit.id, unit_report, GIVEN_UP)
    with db.transaction(write=False) as tx:
        sha256 = course.submission(tx, number)["sha256"]
        first = latest_report(tx, "alice", sha256)
    assert first == merge({queue.UNIT: GradingReport.model_validate_json(unit_report)})
    assert queue.complete(db, mnist.id, result("mnist lane", ErrorCause.grader), GIVEN_UP)
    with db.transaction(write=False) as tx:
        rows = tx.all("SELECT worker, file_sha256 FROM gradings ORDER BY id")
        second = latest_report(tx, "alice", sha256)
    assert rows == [{"worker": "unit-worker", "file_sha256": sha256},
                    {"worker": "mnist-worker", "file_sha256": sha256}]
    assert second.error == "unit lane" and "mnist lane" in next(
        section.message for section in second.sections if section.name == "mnist")
