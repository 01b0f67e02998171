"""The course site on both databases: sign in, upload, results as the lanes finish, the
history and what counts, the instructor's gradebook, regrades, settings and exports."""
from __future__ import annotations

import csv
import io
import json
import time

import pytest

from grader.serve import queue
from tests.support.classroom import broken_source, reference_source
from tests.support.site import csrf, make_site, upload


@pytest.fixture
def site(tmp_path, database_url, fast_unit_cases):
    made = make_site(tmp_path / "site", database_url, cases_dir=fast_unit_cases)
    yield made
    made.close()


def test_a_student_uploads_sees_the_queue_then_the_unit_results(site):
    alice = site.student("alice")
    sent = upload(alice, reference_source().encode())
    assert sent.status_code == 201
    number = sent.json()["id"]
    state = alice.get(f"/api/submissions/{number}").json()
    assert [(lane["lane"], lane["state"], lane["position"]) for lane in state["lanes"]] == \
        [("unit", "queued", 1), ("mnist", "queued", 1)]
    assert "number 1 in the queue" in state["html"] and not state["finished"]
    assert site.drain(queue.UNIT) == 1
    state = alice.get(f"/api/submissions/{number}").json()
    assert state["total"] == 4.0 and not state["finished"]  # MNIST still to come
    page = alice.get(f"/submissions/{number}")
    assert page.status_code == 200
    assert 'data-section="relu" data-verdict="passed"' in page.text
    assert 'data-section="mnist" data-verdict="skipped"' in page.text
    assert "being graded" in page.text


def test_a_broken_section_shows_only_what_a_student_may_see(site):
    alice = site.student("alice")
    number = upload(alice, broken_source("softmax").encode()).json()["id"]
    site.drain(queue.UNIT)
    html = alice.get(f"/api/submissions/{number}").json()["html"]
    assert 'data-section="softmax" data-verdict="wrong_answer"' in html
    assert "hidden case 1" in html
    report = site.instructor().get(f"/instructor/submissions/{number}").text
    assert "softmax_peaked" in report  # a hidden case, named for the instructor only
    assert "softmax_peaked" not in html and "softmax_small" in html


def test_the_latest_submission_before_the_deadline_counts(site):
    alice, teacher = site.student("alice"), site.instructor()
    first = upload(alice, reference_source().encode()).json()["id"]
    token = csrf(teacher.get("/instructor").text)
    deadline = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
    assert teacher.post("/instructor/settings", data={
        "csrf": token, "deadline": deadline, "submissions_per_hour": 20, "max_upload_mb": 5,
        "title": "NN course"}).status_code == 303
    site.app.app.state.settings_read = float("-inf")
    with site.db.transaction() as tx:  # the first upload came well before the deadline
        tx.execute("UPDATE submissions SET received = received - 600 WHERE id = ?", (first,))
    second = upload(alice, broken_source("relu").encode()).json()["id"]
    site.drain(queue.UNIT)
    history = alice.get("/").text
    assert "late: does not count" in history and "counts" in history
    book = teacher.get("/instructor/export.json").json()
    row = next(row for row in book if row["student"] == "alice")
    assert row["points"]["relu"] == 0.5  # the first (on time) submission's
    assert "NN course" in history
    # an extension makes the second one count
    assert teacher.post("/instructor/extension", data={
        "csrf": token, "student": "alice",
        "until": time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 3600))}
    ).status_code == 303
    row = next(row for row in teacher.get("/instructor/export.json").json()
               if row["student"] == "alice")
    assert row["points"]["relu"] == 0.0
    assert second > first


def test_the_instructor_gradebook_exports_and_regrades(site):
    upload(site.student("alice"), reference_source().encode())
    upload(site.student("bob"), broken_source("dense").encode())
    site.drain(queue.UNIT)
    teacher = site.instructor()
    page = teacher.get("/instructor")
    assert page.status_code == 200 and 'data-student="carol"' in page.text
    assert "Bob" not in page.text or "<b>Builder" not in page.text
    rows = list(csv.DictReader(io.StringIO(teacher.get("/instructor/export.csv").text)))
    by_student = {row["student"]: row for row in rows}
    assert by_student["alice"]["total"] == "4" and by_student["bob"]["dense"] == "0"
    assert by_student["carol"]["status"] == "not graded"
    assert by_student["alice"]["mnist"] == "skipped"  # its lane has not run yet
    live = teacher.get("/instructor/api/gradebook").json()
    assert live["graded"] == 2 and live["queue"]["mnist"]["queued"] == 2
    token = csrf(page.text)
    assert teacher.post("/instructor/regrade", data={"csrf": token, "student": ""}
                        ).status_code == 303
    assert site.drain(queue.UNIT) == 2
    with site.db.transaction(write=False) as tx:
        done = tx.value("SELECT COUNT(*) AS n FROM jobs WHERE lane = 'unit' AND state = 'done'")
        mnist = tx.value("SELECT COUNT(*) AS n FROM jobs WHERE lane = 'mnist' AND "
                         "state = 'queued'")
    assert done == 4 and mnist == 2  # the earlier queued MNIST runs were replaced
    assert json.loads(teacher.get("/instructor/export.json").text)[0]["total"] == 4.0


def test_healthz_reports_the_database_and_the_queue(site):
    upload(site.student("carol"), b"x = 1\n")
    health = site.client().get("/healthz").json()
    assert health["ok"] and health["queue"]["unit"]["queued"] == 1


def test_two_servers_share_one_database(site, tmp_path):
    """A second server on the same database (PostgreSQL, or the same SQLite folder) sees the
    first one's uploads, and either grades them."""
    from fastapi.testclient import TestClient

    from grader.serve.app import create_app
    from grader.serve.db import open_database

    second_db = open_database(site.options.db, site.options.data)
    second = TestClient(create_app(site.options, second_db, start_workers=False),
                        follow_redirects=False)
    try:
        alice = site.student("alice")
        number = upload(alice, reference_source().encode()).json()["id"]
        second.cookies.update(alice.cookies)
        assert second.get(f"/api/submissions/{number}").json()["lanes"][0]["state"] == "queued"
        site.db, first_db = second_db, site.db  # the second server's worker grades it
        assert site.drain(queue.UNIT) == 1
        site.db = first_db
        assert alice.get(f"/api/submissions/{number}").json()["total"] == 4.0
    finally:
        second.close()
        second_db.close()
