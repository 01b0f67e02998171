"""The grading queue: two lanes of jobs, claimed with a lease, completed once.

A submission is two jobs: lane ``unit`` (the six unit sections, seconds) and lane
``mnist`` (the training, minutes), so unit feedback never waits behind a training. A job
is claimed atomically (the oldest queued one, under the write lock) with a lease its
worker renews while it grades; a lease that runs out (the worker was killed) puts the job
back in the queue, and a job interrupted ``MAX_ATTEMPTS`` times is given up with a grader
failure as its result. A result is stored in the same statement that marks the job
done, and only if it is not done yet: a second completion changes nothing.

Recorded, too, in that transaction: the submission's report as it now stands (its lanes'
newest results merged, ``lanes.merge``) as a row of the gradings table ``grader batch``
shares (``grader.gradings``), keyed by the student, the file's SHA-256 and the site's
cases and grader. So a row per finished job: the first lane's leaves the other lane's
sections ``skipped``, the second's is the whole grading, and a regrade's lane is merged
with the other lane's newest result, as the site's pages show them. ``grader gradebook
--site`` reads each student's newest row of the file that counts: the site's gradebook
once its lanes are done, written by the batch's code.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from grader.serve.bridge import GradingReport, Key, gradings_time, record_grading
from grader.serve.db import Database, Transaction
from grader.serve.lanes import LANES, MNIST, UNIT, merge

__all__ = ["DONE", "LANES", "MAX_ATTEMPTS", "MNIST", "QUEUED", "RUNNING", "SUPERSEDED", "UNIT",
           "Claimed", "Recording", "claim", "complete", "depth", "enqueue", "lanes_of",
           "position", "renew", "waiting"]
QUEUED, RUNNING, DONE, SUPERSEDED = "queued", "running", "done", "superseded"
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Claimed:
    id: int
    submission: int
    lane: str
    attempts: int


@dataclass(frozen=True)
class Recording:
    """What the workers' results are recorded under in the gradings table (the site's test
    cases and grader), and the result (report JSON) of a job interrupted too often."""

    cases_digest: str
    grader_version: str
    given_up: str


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


def _record(tx: Transaction, job: int, recording: Recording) -> None:
    """Record the report of ``job``'s submission as it stands now ``job`` is done."""
    row = tx.one("SELECT s.id AS submission, s.student AS student, s.sha256 AS sha256, "
                 "j.owner AS owner, j.started AS started FROM jobs j JOIN submissions s ON "
                 "s.id = j.submission WHERE j.id = ?", (job,))
    lanes = lanes_of(tx, [row["submission"]])[row["submission"]]
    report = merge({lane: GradingReport.model_validate_json(entry["report"])
                    for lane, entry in lanes.items() if entry["report"]})
    key = Key(row["student"], row["sha256"], recording.cases_digest, recording.grader_version)
    record_grading(tx, key, report, row["owner"] or "given up", gradings_time(row["started"]))


def _expire(tx: Transaction, lane: str, now: float, recording: Recording) -> None:
    """Leases that ran out: back in the queue, or given up after MAX_ATTEMPTS."""
    for row in tx.all("UPDATE jobs SET state = ?, report = ?, finished = ?, owner = NULL "
                      "WHERE lane = ? AND state = ? AND lease_until < ? AND attempts >= ? "
                      "RETURNING id", (DONE, recording.given_up, now, lane, RUNNING, now,
                                       MAX_ATTEMPTS)):
        _record(tx, row["id"], recording)
    tx.execute("UPDATE jobs SET state = ?, owner = NULL, lease_until = NULL WHERE lane = ? "
               "AND state = ? AND lease_until < ?", (QUEUED, lane, RUNNING, now))


def waiting(db: Database, lane: str) -> bool:
    """Whether ``lane`` may have a job to claim (a read, cheaper than trying to claim)."""
    with db.transaction(write=False) as tx:
        return tx.one("SELECT id FROM jobs WHERE lane = ? AND (state = ? OR (state = ? AND "
                      "lease_until < ?)) LIMIT 1", (lane, QUEUED, RUNNING, time.time())) \
            is not None


def claim(db: Database, lane: str, owner: str, lease_seconds: float,
          recording: Recording) -> Claimed | None:
    """The oldest queued job of ``lane``, now running under ``owner``'s lease; or None."""
    now = time.time()
    with db.transaction() as tx:
        _expire(tx, lane, now, recording)
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


def complete(db: Database, job: int, report: str, recording: Recording) -> bool:
    """Store the result, mark the job done and record the submission's report, unless the
    job is done already (True: stored)."""
    with db.transaction() as tx:
        stored = tx.execute("UPDATE jobs SET state = ?, report = ?, finished = ?, "
                            "lease_until = NULL WHERE id = ? AND state IN (?, ?)",
                            (DONE, report, time.time(), job, QUEUED, RUNNING)) == 1
        if stored:
            _record(tx, job, recording)
    return stored


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
