"""A course site for the service tests: initialised, served by a test client, its queue
graded on demand in the test's own process (``drain``)."""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

from grader.serve import course, queue
from grader.serve.app import create_app
from grader.serve.db import Database, open_database
from grader.serve.options import ServeOptions
from grader.serve.workers import grade_next, make_grading, recording

ROSTER = [("alice", "Alice Liddell", "alice@example.org"),
          ("bob", "Bob <b>Builder</b>", "bob@example.org"),
          ("carol", "Carol", "carol@example.org")]
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    options: ServeOptions
    db: Database
    app: object
    links: dict[str, str]
    clients: list[TestClient] = field(default_factory=list)

    def client(self) -> TestClient:
        made = TestClient(self.app, follow_redirects=False)
        self.clients.append(made)
        return made

    def student(self, name: str) -> TestClient:
        """A client signed in as ``name`` by their link."""
        signed = self.client()
        response = signed.get(self.links[name].split("8000", 1)[1])
        assert response.status_code == 303, response.text
        return signed

    def instructor(self) -> TestClient:
        signed = self.client()
        form = signed.get("/login")
        token = CSRF.search(form.text).group(1)
        response = signed.post("/login", data={"password": PASSWORD, "csrf": token})
        assert response.status_code == 303, response.text
        return signed

    def drain(self, lane: str = queue.UNIT) -> int:
        """Grade every queued job of ``lane`` here; how many were graded."""
        grading, count = make_grading(self.options, lane), 0
        while grade_next(self.db, lane, f"{socket.gethostname()}:test", grading, 60,
                         recording(self.options)):
            count += 1
        return count

    def close(self) -> None:
        for made in self.clients:
            made.close()
        self.db.close()


def csrf(page_text: str) -> str:
    return CSRF.search(page_text).group(1)


def make_site(folder: Path, db_url: str | None, **options: object) -> Site:
    site_options = ServeOptions(data=folder, db=db_url, workers=0, mnist_workers=0,
                                **options)
    db = open_database(db_url, folder)
    links = course.init_course(db, ROSTER, PASSWORD, "http://127.0.0.1:8000", 30)
    return Site(site_options, db, create_app(site_options, db, start_workers=False), links)


def upload(client: TestClient, data: bytes, name: str = "solution.py",
           token: str | None = None):
    """POST a file as the student's form does (the CSRF token read from their home page)."""
    token = token if token is not None else csrf(client.get("/").text)
    return client.post("/submissions", data={"csrf": token}, files={"file": (name, data)},
                       headers={"Accept": "application/json"})
