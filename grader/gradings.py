"""The gradings store ``grader batch`` and ``grader serve`` share: a row per finished grading.

A row holds a report and what it depends on (``Key``: the student, the file's SHA-256, the
test cases' digest, the grader's version), who graded it and when. It is one ``INSERT``,
run in the caller's transaction: the batch writes it alone, the site in the transaction
that marks its job done, so a result is recorded exactly when it is kept. The statements
take a ``grader.database`` transaction, over the batch's SQLite file or the site's
SQLite or PostgreSQL database alike, so both read and write the same table the same way.

A row is ``done`` for its key unless the grader itself failed (no box, broken cases):
the batch grades such a key again on its next run. Reports are JSON, read back as they
were written.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from grader.database import Transaction
from grader.reports.model import ErrorCause, GradingReport

SCHEMA = """
CREATE TABLE IF NOT EXISTS gradings (
    id {serial},
    student TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    cases_digest TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    done INTEGER NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    report TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gradings_key
    ON gradings (student, file_sha256, cases_digest, grader_version);
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def at(seconds: float) -> str:
    """``now()``'s format for a time in UTC seconds (the site's clock)."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Key:
    """What a result depends on."""

    student: str
    file_sha256: str
    cases_digest: str
    grader_version: str


def is_done(tx: Transaction, key: Key) -> bool:
    return tx.one("SELECT 1 AS found FROM gradings WHERE student = ? AND file_sha256 = ? AND "
                  "cases_digest = ? AND grader_version = ? AND done = 1 LIMIT 1",
                  (key.student, key.file_sha256, key.cases_digest, key.grader_version)) \
        is not None


def record(tx: Transaction, key: Key, report: GradingReport, worker: str,
           started_at: str) -> None:
    """One finished grading, in ``tx``."""
    done = report.error is None or report.error_cause == ErrorCause.submission
    tx.execute("INSERT INTO gradings (student, file_sha256, cases_digest, grader_version, "
               "done, total, report, worker, started_at, finished_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (key.student, key.file_sha256, key.cases_digest, key.grader_version,
                int(done), report.total, report.model_dump_json(), worker, started_at, now()))


def latest_report(tx: Transaction, student: str, file_sha256: str,
                  key: Key | None = None) -> GradingReport | None:
    """The newest grading (a failed one included) of ``student``'s file, or None; with
    ``key``, the newest of that key only (the same cases and grader)."""
    where, params = "student = ? AND file_sha256 = ?", [student, file_sha256]
    if key is not None:
        where += " AND cases_digest = ? AND grader_version = ?"
        params += [key.cases_digest, key.grader_version]
    found = tx.value(f"SELECT report FROM gradings WHERE {where} ORDER BY id DESC LIMIT 1",
                     params)
    return GradingReport.model_validate_json(found) if found else None


def newest_key(tx: Transaction) -> Key | None:
    """The key of the newest grading (which cases and grader graded last), or None."""
    row = tx.one("SELECT student, file_sha256, cases_digest, grader_version FROM gradings "
                 "ORDER BY id DESC LIMIT 1")
    return Key(**row) if row else None
