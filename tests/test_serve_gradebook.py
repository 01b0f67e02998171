"""``grader gradebook --site/--db``: a course site's gradings written as ``grader batch``'s
gradebook (the same CSV as the site's export, feedback files, report.html), read from the
gradings table its queue records as jobs finish, without a write to the site."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time

import pytest

from grader.paths import REPO_DIR
from grader.serve import queue
from tests.support.classroom import broken_source, reference_source
from tests.support.site import csrf, make_site, upload


@pytest.fixture
def site(tmp_path, database_url, fast_unit_cases):
    made = make_site(tmp_path / "site", database_url, cases_dir=fast_unit_cases)
    yield made
    made.close()


def gradebook(out, *where: str, cases=None) -> subprocess.CompletedProcess:
    extra = ("--cases", str(cases)) if cases else ()
    return subprocess.run([sys.executable, "-m", "grader", "gradebook", str(out), *where,
                           *extra], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO_DIR)}, check=False)


def counts(site) -> dict[str, int]:
    with site.db.transaction(write=False) as tx:
        return {table: tx.value(f"SELECT COUNT(*) AS n FROM {table}")
                for table in ("gradings", "jobs", "submissions", "sessions")}


def test_a_sites_gradebook_is_its_export_written_as_a_batchs(site, tmp_path):
    alice, teacher = site.student("alice"), site.instructor()
    upload(alice, reference_source().encode())
    upload(site.student("bob"), broken_source("dense").encode())
    deadline = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
    assert teacher.post("/instructor/settings", data={
        "csrf": csrf(teacher.get("/instructor").text), "deadline": deadline,
        "submissions_per_hour": 20, "max_upload_mb": 5, "title": "NN"}).status_code == 303
    with site.db.transaction() as tx:  # both came well before the deadline
        tx.execute("UPDATE submissions SET received = received - 600")
    upload(alice, broken_source("relu").encode())  # late: graded, does not count
    assert site.drain(queue.UNIT) == 3
    before = counts(site)
    where = ("--db", site.options.db) if site.options.db else ("--site", str(site.options.data))
    done = gradebook(tmp_path / "out", *where, cases=site.options.cases_dir)
    assert done.returncode == 0, done.stderr
    assert counts(site) == before
    export = teacher.get("/instructor/export.csv").text
    written = (tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8")
    assert written == export
    book = {row["student"]: row for row in csv.DictReader(io.StringIO(written))}
    assert book["alice"]["total"] == "4" and book["alice"]["mnist"] == "skipped"
    assert book["bob"]["dense"] == "0" and book["carol"]["status"] == "not graded"
    assert sorted(path.name for path in (tmp_path / "out" / "feedback").iterdir()) == \
        ["alice.md", "bob.md"]
    assert "course site layout" in (tmp_path / "out" / "report.html").read_text()


def test_a_site_that_is_not_there_is_named_and_not_made(tmp_path):
    done = gradebook(tmp_path / "out", "--site", str(tmp_path / "nowhere"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert not (tmp_path / "nowhere").exists()
