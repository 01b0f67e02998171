"""kill -9 of a worker and of the server during a burst of uploads: every acknowledged
submission is kept and graded exactly once per lane, and the gradebook is what the
submissions earn (the gradebook of a run without kills)."""
from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time

import httpx
import pytest

from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.serve.db import open_database
from tests.grading_fixtures import cases_with_limits, synthetic_mnist_cache
from tests.support.classroom import BROKEN, broken_source, reference_source
from tests.support.live_site import PASSWORD, LiveSite, sign_in

pytestmark = pytest.mark.slow
STUDENTS = 12


def points_without_kills(kinds: set[str], cases, cache, folder) -> dict[str, dict[str, float]]:
    """Each kind of submission graded once, here, as one grading (no lanes, no kills)."""
    found = {}
    for kind in kinds:
        path = folder / f"{kind}.py"
        path.write_text(reference_source() if kind == "correct" else broken_source(kind))
        report = grade_submission(path, GradingOptions(cases_dir=cases, mnist_cache_dir=cache,
                                                       mnist_fetch=False))
        found[kind] = {section.name: section.points for section in report.sections}
    return found


def send_all(site: LiveSite, links: dict[str, str], kinds: dict[str, str],
             acknowledged: dict[str, int]) -> None:
    """Each student uploads once, retrying while the server is down."""
    def one(student: str) -> None:
        source = reference_source() if kinds[student] == "correct" else \
            broken_source(kinds[student])
        while student not in acknowledged:
            try:
                client, token = sign_in(site.url, links[student])
                answer = client.post("/submissions", data={"csrf": token},
                                     files={"file": ("solution.py", source.encode())},
                                     headers={"Accept": "application/json"})
                if answer.status_code == 201:
                    acknowledged[student] = answer.json()["id"]
            except httpx.HTTPError:
                time.sleep(0.5)

    threads = [threading.Thread(target=one, args=(student,)) for student in links]
    for number, thread in enumerate(threads):
        thread.start()
        time.sleep(0.3 if number % 3 else 0.0)
    for thread in threads:
        thread.join(timeout=300)


def test_kill_9_of_a_worker_and_of_the_server_loses_nothing(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 5\n\n[mnist]\n"
                              "timeout_seconds = 60\n")
    site = LiveSite(tmp_path / "site", cases, synthetic_mnist_cache(tmp_path / "mnist"),
                    extra=("--workers", "1", "--mnist-workers", "1", "--lease-seconds", "3"))
    students = [f"s{number:02d}" for number in range(STUDENTS)]
    kinds = {student: "correct" if number % 2 else list(BROKEN)[number // 2 % len(BROKEN)]
             for number, student in enumerate(students)}
    links = site.init(students)
    site.start()
    acknowledged: dict[str, int] = {}
    burst = threading.Thread(target=send_all, args=(site, links, kinds, acknowledged))
    burst.start()
    try:
        while len(acknowledged) < 4:
            time.sleep(0.1)
        workers = site.health()["workers"]
        os.kill(workers[-1], signal.SIGKILL)  # the MNIST worker, mid-training
        time.sleep(2)
        site.kill()
        time.sleep(1)
        site.start()
        burst.join(timeout=300)
        site.wait_idle(timeout=400)
        teacher = httpx.Client(base_url=site.url, follow_redirects=True, timeout=60)
        form = teacher.get("/login").text
        from tests.support.site import csrf

        teacher.post("/login", data={"password": PASSWORD, "csrf": csrf(form)})
        book = {row["student"]: row for row in csv.DictReader(io.StringIO(
            teacher.get("/instructor/export.csv").text))}
    finally:
        site.stop()
    assert sorted(acknowledged) == students
    # the killed workers' grading folders were swept by the workers started after them
    assert not [path for path in (site.data / "scratch").rglob("*") if path.is_file()]
    db = open_database(None, site.data)
    with db.transaction(write=False) as tx:
        stored = {row["student"]: row["id"] for row in tx.all(
            "SELECT student, MAX(id) AS id FROM submissions GROUP BY student")}
        done = tx.all("SELECT submission, lane, COUNT(*) AS n FROM jobs WHERE state = 'done' "
                      "GROUP BY submission, lane")
        attempts = tx.value("SELECT MAX(attempts) AS n FROM jobs")
        left = tx.value("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')")
        recorded = tx.value("SELECT COUNT(*) AS n FROM gradings")
        finished = tx.value("SELECT COUNT(*) AS n FROM jobs WHERE state = 'done'")
    db.close()
    assert all(stored[student] >= number for student, number in acknowledged.items())
    graded = {(row["submission"], row["lane"]): row["n"] for row in done}
    for student in students:
        assert graded.get((stored[student], "unit")) == 1, student
        assert graded.get((stored[student], "mnist")) == 1, student
    assert left == 0 and attempts >= 2  # something was interrupted, and graded again
    assert recorded == finished  # each finished job recorded once in the shared gradings
    expected = points_without_kills(set(kinds.values()), cases, site.mnist_cache, tmp_path)
    for student in students:
        points = {name: float(book[student][name]) for name in expected["correct"]}
        assert points == expected[kinds[student]], (student, book[student])
