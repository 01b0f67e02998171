"""The grading queue: two lanes of jobs, claimed with a lease, completed once.

A submission is two jobs: lane ``unit`` (the six unit sections, seconds) and lane
``mnist`` (the training, minutes), so unit feedback never waits behind a training. A job
is claimed atomically (the oldest queued one, under the write lock) with a lease its
worker renews while it grades; a lease that runs out (the worker was killed) puts the job
back in the queue, and a job interrupted ``MAX_ATTEMPTS`` times is given up with a grader
failure as its result. A result is stored in the same statement that marks the job
done, and only if it is not done yet: a second completion changes nothing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from grader.serve.db import Database, Transaction

UNIT, MNIST = "unit", "mnist"
LANES = (UNIT, MNIST)
QUEUED, RUNNING, DONE, SUPERSEDED = "queued", "running", "done", "superseded"
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Claimed:
    id: int
    submission: int
    lane: str
    attempts: int


def enqueue(tx: Transaction, submission: int, student: str, lanes: tuple[str, ...] = LANES,
            now: float | None = None) -> None:
    """Queue ``submission``'s gradings. A newer submission supersedes the student's queued
    (not started) MNIST runs, and a regrade the submission's own queued jobs of a lane."""
    now = time.time() if now is None else now
    if MNIST in lanes:
        tx.execute("UPDATE jobs SET state = ?, finished = ? WHERE lane = ? AND state = ? AND "
                   "submission IN (SELECT id FROM submissions WHERE student = ? AND id <= ?)",
                   (SUPERSEDED, now, MNIST, QUEUED, student, submission))
    for lane in lanes:
        tx.execute("UPDATE jobs SET state = ?, finished = ? WHERE submission = ? AND lane = ? "
                   "AND state = ?", (SUPERSEDED, now, submission, lane, QUEUED))
        tx.execute("INSERT INTO jobs (submission, lane, state, queued) VALUES (?, ?, ?, ?)",
                   (submission, lane, QUEUED, now))


def _expire(tx: Transaction, lane: str, now: float, given_up: str) -> None:
    """Leases that ran out: back in the queue, or given up after MAX_ATTEMPTS."""
    tx.execute("UPDATE jobs SET state = ?, report = ?, finished = ?, owner = NULL WHERE "
               "lane = ? AND state = ? AND lease_until < ? AND attempts >= ?",
               (DONE, given_up, now, lane, RUNNING, now, MAX_ATTEMPTS))
    tx.execute("UPDATE jobs SET state = ?, owner = NULL, lease_until = NULL WHERE lane = ? "
               "AND state = ? AND lease_until < ?", (QUEUED, lane, RUNNING, now))


def waiting(db: Database, lane: str) -> bool:
    """Whether ``lane`` may have a job to claim (a read, cheaper than trying to claim)."""
    with db.transaction(write=False) as tx:
        return tx.one("SELECT id FROM jobs WHERE lane = ? AND (state = ? OR (state = ? AND "
                      "lease_until < ?)) LIMIT 1", (lane, QUEUED, RUNNING, time.time())) \
            is not None


def claim(db: Database, lane: str, owner: str, lease_seconds: float,
          given_up: str) -> Claimed | None:
    """The oldest queued job of ``lane``, now running under ``owner``'s lease; or None.
    ``given_up``: the report (JSON) of a job interrupted too often."""
    now = time.time()
    with db.transaction() as tx:
        _expire(tx, lane, now, given_up)
        row = tx.one(
            "UPDATE jobs SET state = ?, owner = ?, lease_until = ?, started = ?, "
            "attempts = attempts + 1 WHERE id = (SELECT id FROM jobs WHERE lane = ? AND "
            f"state = ? ORDER BY id LIMIT 1{tx.skip_locked}) AND state = ? "
            "RETURNING id, submission, lane, attempts",
            (RUNNING, owner, now + lease_seconds, now, lane, QUEUED, QUEUED))
    return Claimed(**row) if row else None


def renew(db: Database, job: int, owner: str, lease_seconds: float) -> bool:
    """Extend the lease; False when the job is no longer this owner's."""
    with db.transaction() as tx:
        return tx.execute("UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ? AND "
                          "state = ?", (time.time() + lease_seconds, job, owner, RUNNING)) == 1


def complete(db: Database, job: int, report: str) -> bool:
    """Store the result and mark the job done, unless it is done already (True: stored)."""
    with db.transaction() as tx:
        return tx.execute("UPDATE jobs SET state = ?, report = ?, finished = ?, "
                          "lease_until = NULL WHERE id = ? AND state IN (?, ?)",
                          (DONE, report, time.time(), job, QUEUED, RUNNING)) == 1


def position(tx: Transaction, job: int, lane: str) -> int:
    """1 for the next job of its lane to start."""
    return 1 + tx.value("SELECT COUNT(*) AS n FROM jobs WHERE lane = ? AND state = ? AND id < ?",
                        (lane, QUEUED, job))


def depth(tx: Transaction) -> dict[str, dict[str, int]]:
    """Queued and running jobs per lane."""
    found = {lane: {QUEUED: 0, RUNNING: 0} for lane in LANES}
    for row in tx.all("SELECT lane, state, COUNT(*) AS n FROM jobs WHERE state IN (?, ?) "
                      "GROUP BY lane, state", (QUEUED, RUNNING)):
        found.setdefault(row["lane"], {})[row["state"]] = row["n"]
    return found


def lanes_of(tx: Transaction, submissions: list[int]) -> dict[int, dict[str, dict]]:
    """For each submission and lane: the newest job's ``id`` and ``state``, and the newest
    result (``report``, JSON, or None): a regrade in the queue leaves the last one shown."""
    found: dict[int, dict[str, dict]] = {number: {} for number in submissions}
    for start in range(0, len(submissions), 500):
        chunk = submissions[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        for row in tx.all(f"SELECT id, submission, lane, state, report FROM jobs WHERE "
                          f"submission IN ({marks}) ORDER BY id", chunk):
            entry = found[row["submission"]].setdefault(row["lane"], {"report": None})
            entry.update(id=row["id"], state=row["state"])
            if row["state"] == DONE:
                entry["report"] = row["report"]
    return found
