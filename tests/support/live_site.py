"""``grader serve`` as a real process (uvicorn, worker processes) for the slow, browser
and load tests: started, waited for, killed, restarted."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from grader.paths import REPO_DIR
from grader.serve import course
from grader.serve.db import open_database

PASSWORD = "instructor password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveSite:
    data: Path
    cases: Path
    mnist_cache: Path
    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def init(self, students: list[str], per_hour: int = 20) -> dict[str, str]:
        """The course with ``students``; their sign-in paths (``/signin/...``)."""
        db = open_database(None, self.data)
        try:
            links = course.init_course(db, [(s, s.title(), f"{s}@example.org") for s in students],
                                       PASSWORD, self.url, 1)
            with db.transaction() as tx:
                course.change_settings(tx, submissions_per_hour=per_hour)
        finally:
            db.close()
        return {student: link.removeprefix(self.url) for student, link in links.items()}

    def start(self, *extra: str) -> None:
        env = {**os.environ, "GRADER_CACHE_DIR": str(self.mnist_cache),
               "PYTHONPATH": str(REPO_DIR)}
        with open(self.data / "server.log", "ab") as log:  # the server keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader", "serve", "--data", str(self.data), "--port",
                 str(self.port), "--cases", str(self.cases), "--no-download", *self.extra,
                 *extra], env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("grader serve did not start: "
                             + (self.data / "server.log").read_text()[-3000:])

    def health(self) -> dict:
        return httpx.get(self.url + "/healthz", timeout=10).json()

    def kill(self) -> None:
        """kill -9 of the server (its workers die with it)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_idle(self, timeout: float) -> None:
        """Until no job is queued or running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = self.health()["queue"]
            if not any(count for lane in queue.values() for count in lane.values()):
                return
            time.sleep(0.5)
        raise AssertionError(f"the queue did not empty: {self.health()}")

    def server_rss_mb(self) -> float:
        """The server process's resident memory (its workers apart)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def sign_in(url: str, path: str) -> tuple[httpx.Client, str]:
    """A client signed in by its link, and its CSRF token."""
    from tests.support.site import csrf

    client = httpx.Client(base_url=url, timeout=60, follow_redirects=True)
    page = client.get(path)
    page.raise_for_status()
    return client, csrf(page.text)
