"""The course site's database: its schema over ``grader.database``'s two engines.

The site's own tables (settings, students, sessions, submissions, jobs) and the gradings
table it shares with ``grader batch`` (``grader.gradings``): a job's result is kept in
``jobs.report`` for the site's pages and recorded there for ``grader gradebook --site``.
"""
from __future__ import annotations

from pathlib import Path

from grader.serve.bridge import (GRADINGS_SCHEMA, Database, DatabaseError, PostgresDatabase,
                                 SqliteDatabase, Transaction)

__all__ = ["SCHEMA", "SQLITE_FILE", "Database", "DatabaseError", "Transaction",
           "open_database"]

SQLITE_FILE = "site.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS students (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    token_expires DOUBLE PRECISION NOT NULL,
    extension_until DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    who TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id {serial},
    student TEXT NOT NULL REFERENCES students(id),
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content {blob} NOT NULL,
    received DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_by_student ON submissions (student, received);
CREATE TABLE IF NOT EXISTS jobs (
    id {serial},
    submission INTEGER NOT NULL REFERENCES submissions(id),
    lane TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    queued DOUBLE PRECISION NOT NULL,
    started DOUBLE PRECISION,
    finished DOUBLE PRECISION,
    report TEXT
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (lane, state, id);
CREATE INDEX IF NOT EXISTS jobs_of_submission ON jobs (submission, lane, id);
""" + GRADINGS_SCHEMA


def connect(url: str | None, data: Path) -> Database:
    """``url`` (postgresql://... or sqlite:///PATH) or, without one, SQLite in ``data``."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    if url and url.startswith("sqlite:///"):
        return SqliteDatabase(Path(url.removeprefix("sqlite:///")))
    if url:
        raise DatabaseError(f"--db {url!r}: expected postgresql://... or sqlite:///PATH")
    return SqliteDatabase(Path(data) / SQLITE_FILE)


def open_database(url: str | None, data: Path) -> Database:
    """The site's database (``connect``), its schema made."""
    database = connect(url, data)
    database.create_schema(SCHEMA)
    return database
