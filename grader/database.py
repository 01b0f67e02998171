"""One small database interface with two engines: SQLite (embedded) and PostgreSQL.

``grader serve`` keeps its course here and ``grader batch`` its results, so the gradings
both record go through the same statements (``grader.gradings``). A schema is written
once, with ``{serial}`` and ``{blob}`` for the column types the engines name differently.
Queries are written once, with ``?`` placeholders and SQL both engines accept
(``RETURNING`` included); the PostgreSQL engine rewrites the placeholders. Every write
runs in a transaction that takes the write lock at its start (``BEGIN IMMEDIATE`` on
SQLite; row locks and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two servers or
workers never claim one job. SQLite runs in WAL mode with ``synchronous=FULL``: a commit
is on disk when it returns.
"""
from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = dict[str, Any]


class DatabaseError(Exception):
    """The database cannot be opened or reached; the message says which and why."""


class Transaction:
    """The statements of one transaction (``?`` placeholders, rows as dicts)."""

    def __init__(self, cursor: Any, rewrite: bool) -> None:
        self.cursor, self.rewrite = cursor, rewrite
        # row locks: PostgreSQL's; a SQLite write transaction already holds the whole file
        self.for_update = " FOR UPDATE" if rewrite else ""
        self.skip_locked = " FOR UPDATE SKIP LOCKED" if rewrite else ""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        self.cursor.execute(sql.replace("?", "%s") if self.rewrite else sql, tuple(params))
        return self.cursor.rowcount

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.execute(sql, params)
        return [dict(row) for row in self.cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        found = self.all(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.one(sql, params)
        return None if found is None else next(iter(found.values()))


class Database(ABC):
    """Where the course lives; ``transaction()`` is the only way in."""

    kind: str
    types: dict[str, str]  # what ``{serial}`` and ``{blob}`` of a schema stand for

    @abstractmethod
    def transaction(self, write: bool = True) -> contextmanager:
        """A transaction, committed when the block ends and rolled back on an error; a
        write transaction takes SQLite's write lock at once (``BEGIN IMMEDIATE``)."""

    @abstractmethod
    def close(self) -> None: ...

    def create_schema(self, schema: str) -> None:
        """Run ``schema`` (``CREATE ... IF NOT EXISTS`` statements, ``{serial}``, ``{blob}``)."""
        with self.transaction() as tx:
            self._lock_schema(tx)
            for statement in schema.format(**self.types).split(";"):
                if statement.strip():
                    tx.execute(statement)

    def _lock_schema(self, tx: Transaction) -> None:
        """Serialise schema creation between servers starting together."""


class SqliteDatabase(Database):
    """One connection per thread to the file ``path`` (WAL, synchronous=FULL)."""

    kind = "sqlite"
    types = {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "blob": "BLOB"}

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection()  # fail now, with the reason, rather than on the first request

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                             check_same_thread=False)
                connection.row_factory = sqlite3.Row
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute("PRAGMA foreign_keys=ON")
            except (OSError, sqlite3.Error) as error:
                raise DatabaseError(f"{self.path}: cannot open the database: {error}") from None
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        connection = self._connection()
        cursor = connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Transaction(cursor, rewrite=False)
        except BaseException:
            connection.rollback()
            raise
        else:
            connection.commit()
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
        self._local = threading.local()



class PostgresDatabase(Database):
    """A pool of psycopg 3 connections; jobs are claimed with ``FOR UPDATE SKIP LOCKED``."""

    kind = "postgresql"
    types = {"serial": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA"}

    def __init__(self, url: str, max_connections: int = 16) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise DatabaseError("a postgresql:// database needs psycopg 3: pip install "
                                "'psycopg[binary]' psycopg-pool") from None
        self._errors = (psycopg.Error,)
        try:
            self.pool = ConnectionPool(url, min_size=1, max_size=max_connections, timeout=30,
                                       kwargs={"row_factory": dict_row}, open=True)
            self.pool.wait(timeout=15)
        except Exception as error:  # psycopg's and the pool's own errors alike
            raise DatabaseError(f"cannot reach the PostgreSQL database: {error}") from None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        with self.pool.connection() as connection, connection.transaction():
            with connection.cursor() as cursor:
                yield Transaction(cursor, rewrite=True)

    def close(self) -> None:
        self.pool.close()

    def _lock_schema(self, tx: Transaction) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(2020)")
