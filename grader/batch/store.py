"""The class's results in SQLite (``RESULTS/grades.sqlite``, write-ahead log).

Every grading is a row of its own, written in one transaction when the grading ends:
a ``kill -9`` loses at most the gradings still running and never leaves half a row.
Only the coordinator of a batch writes (worker threads and cluster workers hand their
reports back to it). A row counts as done for its (file, cases, grader) triple unless
the grader itself failed (no box, broken cases): then a rerun grades it again.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grader.reports.model import ErrorCause, GradingReport

DATABASE_FILE = "grades.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submissions TEXT NOT NULL,
    layout TEXT NOT NULL,
    cases_digest TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    options TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS roster (
    student TEXT PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    path TEXT,
    file_sha256 TEXT NOT NULL,
    problem TEXT NOT NULL,
    code TEXT
);
CREATE TABLE IF NOT EXISTS gradings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    cases_digest TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    done INTEGER NOT NULL,
    total REAL NOT NULL,
    report TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gradings_key
    ON gradings (student, file_sha256, cases_digest, grader_version);
"""


class StoreError(Exception):
    """The results database cannot be opened or is not one of ours."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Key:
    """What a result depends on."""

    student: str
    file_sha256: str
    cases_digest: str
    grader_version: str


@dataclass(frozen=True)
class RosterRow:
    student: str
    path: str | None
    file_sha256: str
    problem: str
    code: str | None  # the code graded (a notebook's cells), for the similarity check


@dataclass(frozen=True)
class Batch:
    id: int
    submissions: str
    layout: str
    cases_digest: str
    grader_version: str
    options: dict
    started_at: str
    finished_at: str | None


class ResultStore:
    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / DATABASE_FILE
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.DatabaseError) as error:
            raise StoreError(f"{self.path}: cannot open the results database: {error}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start_batch(self, submissions: str, layout: str, cases_digest: str,
                    grader_version: str, options: dict, roster: list[RosterRow]) -> int:
        """Record a batch and make ``roster`` the class (one transaction)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            batch = self.db.execute(
                "INSERT INTO batches (submissions, layout, cases_digest, grader_version, "
                "options, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                (submissions, layout, cases_digest, grader_version, json.dumps(options), now())
            ).lastrowid
            self.db.execute("DELETE FROM roster")
            self.db.executemany(
                "INSERT INTO roster (student, batch_id, path, file_sha256, problem, code) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(row.student, batch, row.path, row.file_sha256, row.problem, row.code)
                 for row in roster])
        return batch

    def finish_batch(self, batch: int) -> None:
        with self.db:
            self.db.execute("UPDATE batches SET finished_at = ? WHERE id = ?", (now(), batch))

    def latest_batch(self) -> Batch | None:
        row = self.db.execute("SELECT id, submissions, layout, cases_digest, grader_version, "
                              "options, started_at, finished_at FROM batches "
                              "ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Batch(*row[:5], json.loads(row[5]), *row[6:])

    def roster(self) -> list[RosterRow]:
        return [RosterRow(*row) for row in self.db.execute(
            "SELECT student, path, file_sha256, problem, code FROM roster ORDER BY student")]

    def is_done(self, key: Key) -> bool:
        return self.db.execute(
            "SELECT 1 FROM gradings WHERE student = ? AND file_sha256 = ? AND cases_digest = ? "
            "AND grader_version = ? AND done = 1 LIMIT 1",
            (key.student, key.file_sha256, key.cases_digest, key.grader_version)
        ).fetchone() is not None

    def record(self, key: Key, report: GradingReport, worker: str, started_at: str) -> None:
        """Store one finished grading: one row, one transaction."""
        done = report.error is None or report.error_cause == ErrorCause.submission
        with self.db:
            self.db.execute(
                "INSERT INTO gradings (student, file_sha256, cases_digest, grader_version, "
                "done, total, report, worker, started_at, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key.student, key.file_sha256, key.cases_digest, key.grader_version, int(done),
                 report.total, report.model_dump_json(), worker, started_at, now()))

    def latest_report(self, key: Key) -> GradingReport | None:
        """The newest grading of ``key`` (a failed one included), or None."""
        row = self.db.execute(
            "SELECT report FROM gradings WHERE student = ? AND file_sha256 = ? AND "
            "cases_digest = ? AND grader_version = ? ORDER BY id DESC LIMIT 1",
            (key.student, key.file_sha256, key.cases_digest, key.grader_version)).fetchone()
        return GradingReport.model_validate_json(row[0]) if row else None

    def count(self, student: str | None = None) -> int:
        if student is None:
            return self.db.execute("SELECT COUNT(*) FROM gradings").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM gradings WHERE student = ?",
                               (student,)).fetchone()[0]
