"""Grading as an instructor would, through the CLI, in each kind of box, as root or not.

A ``Runner`` grades a submission with ``python -m grader grade ... --json`` and
returns the report and what the command printed. The non-root runner is a
system user made for the tests (``nngrader``), run through
``tests/support/run_as.py`` so that it reaches this interpreter; the Docker
runners need an engine and the grading image, and the non-root one puts the
user in the ``docker`` group, as a real grading user would be.

``Area`` is a directory every runner may use (the runner's user cannot reach
pytest's ``tmp_path``): submissions, copies of the test cases, reports.
"""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.reports.model import GradingReport

REPO_DIR = Path(__file__).resolve().parents[2]
TEST_USER = "nngrader"


def ensure_test_user(docker_group: bool = False) -> str:
    """The non-root grading user of the tests (made once; needs root)."""
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", TEST_USER], check=True)
    if docker_group:
        try:
            grp.getgrnam("docker")
        except KeyError:
            subprocess.run(["groupadd", "--system", "docker"], check=True)
        subprocess.run(["usermod", "-aG", "docker", TEST_USER], check=True)
    return TEST_USER


class Area:
    """A temporary directory open to every runner; removed with ``close``."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="nn-test-area-", dir="/tmp"))
        self.path.chmod(0o777)

    def file(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o777)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        return path

    def directory(self, name: str) -> Path:
        """A directory every runner may write to."""
        path = self.path / name
        path.mkdir(parents=True)
        path.chmod(0o777)
        return path

    def copy_tree(self, source: Path, name: str) -> Path:
        target = self.path / name
        shutil.copytree(source, target)
        for directory, _, files in os.walk(target):
            os.chmod(directory, 0o755)
            for item in files:
                os.chmod(os.path.join(directory, item), 0o644)
        return target

    def close(self) -> None:
        subprocess.run(["rm", "-rf", str(self.path)], check=False)


@dataclass(frozen=True)
class Graded:
    report: GradingReport
    stdout: str
    returncode: int
    pid: int  # the grader's (``unshare`` and ``run_as`` exec it: the process the runner started)


@dataclass(frozen=True)
class Runner:
    name: str
    box: str = "bwrap"
    user: str | None = None  # None: as root

    def wrap(self, command: list[str]) -> list[str]:
        """``command`` as this runner's user (run it from the repository)."""
        if self.user is None:
            return command
        return ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-m",
                "tests.support.run_as", self.user, "--", *command]

    def command(self, arguments: list[str]) -> list[str]:
        return self.wrap([sys.executable, "-m", "grader", *arguments])

    def uid(self) -> int | None:
        return None if self.user is None else pwd.getpwnam(self.user).pw_uid

    def grade(self, area: Area, submission: Path, cases: Path, *arguments: str,
              environment: dict[str, str] | None = None, timeout: float = 300,
              on_start: Callable[[int], None] | None = None) -> Graded:
        """Grade ``submission``; ``on_start`` is given the grader's pid as soon as it runs."""
        out = area.directory(f"report-{uuid.uuid4().hex[:12]}") / "report.json"
        command = self.command(["grade", str(submission), "--cases", str(cases), "--box",
                                self.box, "--json", str(out), *arguments])
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              cwd=REPO_DIR, env={**os.environ, "COLUMNS": "200",
                                                 **(environment or {})}) as grading:
            try:
                if on_start is not None:
                    on_start(grading.pid)
                output, errors = grading.communicate(timeout=timeout)
            except BaseException:
                grading.kill()
                raise
        stdout = output.decode("utf-8", errors="replace")
        assert out.exists(), (f"no report ({grading.returncode}):\n{stdout}\n"
                              f"{errors.decode(errors='replace')}")
        report = GradingReport.model_validate_json(out.read_text(encoding="utf-8"))
        return Graded(report, stdout, grading.returncode, grading.pid)
