"""The class's results in SQLite (``RESULTS/grades.sqlite``, write-ahead log).

The batch's own tables (its runs, the roster) and the gradings table ``grader serve``
also keeps (``grader.gradings``), opened as the site opens its SQLite database
(``grader.database``). Every grading is a row of its own, written in one transaction
when the grading ends: a ``kill -9`` loses at most the gradings still running and never
leaves half a row. Only the coordinator of a batch writes (worker threads and cluster
workers hand their reports back to it). A row counts as done for its (file, cases,
grader) triple unless the grader itself failed (no box, broken cases): then a rerun
grades it again.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grader import gradings
from grader.database import DatabaseError, SqliteDatabase
from grader.gradings import Key, now
from grader.reports.model import GradingReport

DATABASE_FILE = "grades.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id {serial},
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
""" + gradings.SCHEMA


class StoreError(Exception):
    """The results database cannot be opened or is not one of ours."""


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
            self.db = SqliteDatabase(self.path)
            self.db.create_schema(SCHEMA)
        except DatabaseError as error:
            raise StoreError(f"cannot open the results database: {error}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start_batch(self, submissions: str, layout: str, cases_digest: str,
                    grader_version: str, options: dict, roster: list[RosterRow]) -> int:
        """Record a batch and make ``roster`` the class (one transaction)."""
        with self.db.transaction() as tx:
            batch = tx.value(
                "INSERT INTO batches (submissions, layout, cases_digest, grader_version, "
                "options, started_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (submissions, layout, cases_digest, grader_version, json.dumps(options), now()))
            tx.execute("DELETE FROM roster")
            for row in roster:
                tx.execute("INSERT INTO roster (student, batch_id, path, file_sha256, problem, "
                           "code) VALUES (?, ?, ?, ?, ?, ?)",
                           (row.student, batch, row.path, row.file_sha256, row.problem, row.code))
        return batch

    def finish_batch(self, batch: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE batches SET finished_at = ? WHERE id = ?", (now(), batch))

    def latest_batch(self) -> Batch | None:
        with self.db.transaction(write=False) as tx:
            row = tx.one("SELECT id, submissions, layout, cases_digest, grader_version, "
                         "options, started_at, finished_at FROM batches "
                         "ORDER BY id DESC LIMIT 1")
        return None if row is None else Batch(**row | {"options": json.loads(row["options"])})

    def roster(self) -> list[RosterRow]:
        with self.db.transaction(write=False) as tx:
            return [RosterRow(**row) for row in tx.all(
                "SELECT student, path, file_sha256, problem, code FROM roster ORDER BY student")]

    def is_done(self, key: Key) -> bool:
        with self.db.transaction(write=False) as tx:
            return gradings.is_done(tx, key)

    def record(self, key: Key, report: GradingReport, worker: str, started_at: str) -> None:
        """Store one finished grading: one row, one transaction."""
        with self.db.transaction() as tx:
            gradings.record(tx, key, report, worker, started_at)

    def latest_report(self, key: Key) -> GradingReport | None:
        """The newest grading of ``key`` (a failed one included), or None."""
        with self.db.transaction(write=False) as tx:
            return gradings.latest_report(tx, key.student, key.file_sha256, key)
