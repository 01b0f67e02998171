"""The gradings store ``grader batch`` and ``grader serve`` share, on both engines: the
done rule, the newest report of a key or of a file, over one schema."""
from __future__ import annotations

import pytest

from grader import gradings
from grader.batch.store import SCHEMA as BATCH_SCHEMA
from grader.gradings import Key
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import failed_report
from grader.reports.model import ErrorCause
from grader.serve.db import SCHEMA as SITE_SCHEMA, connect


@pytest.fixture
def db(tmp_path, database_url):
    database = connect(database_url, tmp_path)
    database.create_schema(gradings.SCHEMA)
    yield database
    database.close()


def report(message: str, cause: ErrorCause):
    return failed_report("solution.py", message, cause, DEFAULT_CASES_DIR)


def test_both_tools_make_the_one_gradings_table():
    assert gradings.SCHEMA in BATCH_SCHEMA and gradings.SCHEMA in SITE_SCHEMA


def test_a_grading_is_done_unless_the_grader_failed_and_the_newest_is_read(db):
    key = Key("alice", "f" * 64, "cases", "v1")
    other_cases = Key("alice", "f" * 64, "other cases", "v1")
    with db.transaction() as tx:
        gradings.record(tx, key, report("no box", ErrorCause.grader), "w1", gradings.now())
        assert not gradings.is_done(tx, key)
        gradings.record(tx, key, report("not Python", ErrorCause.submission), "w1",
                        gradings.at(0))
        gradings.record(tx, other_cases, report("newest", ErrorCause.grader), "w2",
                        gradings.now())
    with db.transaction(write=False) as tx:
        assert gradings.is_done(tx, key) and not gradings.is_done(tx, other_cases)
        assert gradings.latest_report(tx, "alice", "f" * 64, key).error == "not Python"
        assert gradings.latest_report(tx, "alice", "f" * 64).error == "newest"
        assert gradings.latest_report(tx, "bob", "f" * 64) is None
        assert gradings.newest_key(tx) == other_cases
        row = tx.one("SELECT worker, started_at, finished_at FROM gradings WHERE "
                     "cases_digest = 'cases' ORDER BY id DESC LIMIT 1")
    assert row["worker"] == "w1" and row["started_at"].startswith("1970-01-01T00:00:00")
    assert row["started_at"] < row["finished_at"]


def test_a_grading_is_all_or_nothing(db):
    key = Key("alice", "f" * 64, "cases", "v1")
    with pytest.raises(RuntimeError), db.transaction() as tx:
        gradings.record(tx, key, report("x", ErrorCause.submission), "w", gradings.now())
        raise RuntimeError("the job was not marked done")
    with db.transaction(write=False) as tx:
        assert gradings.newest_key(tx) is None
