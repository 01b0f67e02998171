"""``grader serve init`` from a script: links written, the password generated and printed
once, never a prompt; a bad roster is a clear error, not a traceback."""
from __future__ import annotations

import os
import subprocess
import sys

from grader.paths import REPO_DIR
from grader.serve import auth
from grader.serve.db import open_database


def serve_init(tmp_path, roster: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "roster.csv").write_text(roster, encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "grader", "serve", "init", "--data",
                           str(tmp_path / "site"), "--roster", str(tmp_path / "roster.csv"),
                           *extra], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO_DIR)}, check=False)


def test_init_writes_links_and_prints_a_generated_password_once(tmp_path):
    done = serve_init(tmp_path, "student_id,name,email\nalice,Alice,a@x.org\nbob,Bob,b@x.org\n",
                      "--links", str(tmp_path / "links.csv"), "--base-url", "https://nn.test/")
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "links.csv").read_text().splitlines()
    assert lines[0] == "student_id,link" and lines[1].startswith("alice,https://nn.test/signin/")
    password = done.stdout.split("instructor password (shown once): ")[1].strip()
    token = lines[1].rsplit("/", 1)[1]
    db = open_database(None, tmp_path / "site")
    with db.transaction(write=False) as tx:
        stored = tx.all("SELECT token_sha256 FROM students ORDER BY id")
        hashed = tx.value("SELECT value FROM settings WHERE name = 'instructor_password'")
    db.close()
    assert stored[0]["token_sha256"] == auth.digest(token) and token not in str(stored)
    assert auth.check_password(password, hashed) and password not in hashed


def test_a_bad_roster_is_a_clear_error(tmp_path):
    done = serve_init(tmp_path, "id,name\n1,x\n")
    assert done.returncode == 2 and "student_id" in done.stderr
    assert "Traceback" not in done.stderr
    done = serve_init(tmp_path, "student_id,name,email\nalice,A,a\nalice,B,b\n")
    assert done.returncode == 2 and "appears twice" in done.stderr
