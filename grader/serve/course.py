"""The course in the database: its settings, its students and their submissions.

Settings an instructor changes (deadline, limits) are one JSON document validated by
``CourseSettings``. A submission is stored, bytes and SHA-256, in the same transaction
that checks the student's hourly limit and queues its gradings: it is on disk (the
database's commit) before the upload is acknowledged, and never half there.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from dataclasses import dataclass

from pydantic import BaseModel, Field, ValidationError

from grader.serve import auth, queue
from grader.serve.db import Database, Transaction

SETTINGS, PASSWORD = "course", "instructor_password"
STUDENT_ID = re.compile(r"^[\w.@+-]{1,64}$")
MAX_UPLOAD_MB = 20  # what grader.submission reads at most


class CourseError(Exception):
    """Bad input from an instructor (a roster, a setting); the message says what to fix."""


class RateLimited(Exception):
    """The student sent as many submissions as an hour allows."""


class CourseSettings(BaseModel):
    """What an instructor sets on the site."""

    title: str = Field("Neural networks in numpy", max_length=200)
    base_url: str = Field("http://127.0.0.1:8000", description="where students open their "
                                                               "sign-in links")
    deadline: float | None = Field(None, description="UTC seconds; None: no deadline")
    submissions_per_hour: int = Field(20, ge=1, le=1000)
    max_upload_mb: float = Field(5.0, gt=0, le=MAX_UPLOAD_MB)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    email: str
    extension_until: float | None


def settings(tx: Transaction) -> CourseSettings:
    stored = tx.value("SELECT value FROM settings WHERE name = ?", (SETTINGS,))
    return CourseSettings.model_validate_json(stored) if stored else CourseSettings()


def save_settings(tx: Transaction, values: CourseSettings) -> None:
    tx.execute("DELETE FROM settings WHERE name = ?", (SETTINGS,))
    tx.execute("INSERT INTO settings (name, value) VALUES (?, ?)",
               (SETTINGS, values.model_dump_json()))


def change_settings(tx: Transaction, **changes: object) -> CourseSettings:
    """The settings with ``changes`` applied and validated (``CourseError`` says why not)."""
    try:
        changed = CourseSettings.model_validate(settings(tx).model_dump() | changes)
    except ValidationError as error:
        raise CourseError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                    for e in error.errors())) from None
    save_settings(tx, changed)
    return changed


def password_hash(tx: Transaction) -> str | None:
    return tx.value("SELECT value FROM settings WHERE name = ?", (PASSWORD,))


def read_roster(text: str) -> list[tuple[str, str, str]]:
    """(student_id, name, email) rows of a roster CSV; ``CourseError`` names the bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"student_id", "name", "email"} - set(reader.fieldnames or [])
    if missing:
        raise CourseError(f"the roster needs the columns student_id, name, email (missing: "
                          f"{', '.join(sorted(missing))})")
    rows, seen = [], set()
    for line, entry in enumerate(reader, start=2):
        student = (entry["student_id"] or "").strip()
        if not STUDENT_ID.match(student):
            raise CourseError(f"roster line {line}: student_id {student!r} must be 1-64 "
                              "letters, digits or . @ + - _")
        if student in seen:
            raise CourseError(f"roster line {line}: student_id {student!r} appears twice")
        seen.add(student)
        rows.append((student, (entry["name"] or "").strip()[:200],
                     (entry["email"] or "").strip()[:200]))
    if not rows:
        raise CourseError("the roster lists no student")
    return rows


def init_course(db: Database, roster: list[tuple[str, str, str]], password: str,
                base_url: str, link_days: float) -> dict[str, str]:
    """Create or update the course: the roster's students get new sign-in links (old ones
    stop working), the instructor the password. The links by student."""
    links, expires = {}, time.time() + link_days * 86400
    with db.transaction() as tx:
        change_settings(tx, base_url=base_url.rstrip("/"))
        tx.execute("DELETE FROM settings WHERE name = ?", (PASSWORD,))
        tx.execute("INSERT INTO settings (name, value) VALUES (?, ?)",
                   (PASSWORD, auth.hash_password(password)))
        for student, name, email in roster:
            token = auth.new_secret()
            if tx.execute("UPDATE students SET name = ?, email = ?, token_sha256 = ?, "
                          "token_expires = ? WHERE id = ?",
                          (name, email, auth.digest(token), expires, student)) == 0:
                tx.execute("INSERT INTO students (id, name, email, token_sha256, token_expires)"
                           " VALUES (?, ?, ?, ?, ?)",
                           (student, name, email, auth.digest(token), expires))
            links[student] = f"{base_url.rstrip('/')}/signin/{token}"
    return links


def student(tx: Transaction, student_id: str) -> Student | None:
    row = tx.one("SELECT id, name, email, extension_until FROM students WHERE id = ?",
                 (student_id,))
    return Student(**row) if row else None


def students(tx: Transaction) -> list[Student]:
    return [Student(**row) for row in tx.all(
        "SELECT id, name, email, extension_until FROM students ORDER BY id")]


def set_extension(tx: Transaction, student_id: str, until: float | None) -> None:
    if tx.execute("UPDATE students SET extension_until = ? WHERE id = ?",
                  (until, student_id)) == 0:
        raise CourseError(f"no student {student_id!r}")


def due(values: CourseSettings, member: Student) -> float | None:
    """When ``member``'s submissions stop counting: their extension, else the deadline."""
    return member.extension_until if member.extension_until is not None else values.deadline


def add_submission(tx: Transaction, student_id: str, file_name: str, content: bytes,
                   per_hour: int) -> int:
    """Store a submission and queue its gradings; its id. ``RateLimited`` past the hourly
    limit (the student's row is locked, so parallel uploads are counted one by one)."""
    now = time.time()
    tx.one(f"SELECT id FROM students WHERE id = ?{tx.for_update}", (student_id,))
    recent = tx.value("SELECT COUNT(*) AS n FROM submissions WHERE student = ? AND "
                      "received > ?", (student_id, now - 3600))
    if recent >= per_hour:
        raise RateLimited(f"at most {per_hour} submissions an hour: try again later")
    number = tx.value("INSERT INTO submissions (student, file_name, sha256, size, content, "
                      "received) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                      (student_id, file_name, hashlib.sha256(content).hexdigest(),
                       len(content), content, now))
    queue.enqueue(tx, number, student_id, now=now)
    return number


def submissions_of(tx: Transaction, student_id: str | None = None) -> list[dict]:
    """Submissions (without their bytes), newest first; one student's or everyone's."""
    where, params = ("WHERE student = ?", (student_id,)) if student_id else ("", ())
    return tx.all(f"SELECT id, student, file_name, sha256, size, received FROM submissions "
                  f"{where} ORDER BY id DESC", params)


def submission(tx: Transaction, number: int) -> dict | None:
    return tx.one("SELECT id, student, file_name, sha256, size, received FROM submissions "
                  "WHERE id = ?", (number,))


def content(tx: Transaction, number: int) -> tuple[str, bytes] | None:
    row = tx.one("SELECT file_name, content FROM submissions WHERE id = ?", (number,))
    return (row["file_name"], bytes(row["content"])) if row else None
