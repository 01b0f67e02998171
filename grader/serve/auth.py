"""Who is asking: sign-in links, the instructor's password, sessions and CSRF tokens.

Secrets are 32 random bytes (URL-safe text) and only their SHA-256 is stored, so a copy
of the database signs nobody in. The instructor's password is stored as scrypt with a
salt of its own. A session is a random cookie (HttpOnly, SameSite=Lax, Secure behind
https) whose digest names a row with the session's CSRF token: every form carries that
token and every POST is refused without it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from grader.serve.db import Transaction

INSTRUCTOR = "instructor"          # the ``who`` of the instructor's sessions
SESSION_COOKIE = "grader_session"
SESSION_SECONDS = 7 * 24 * 3600
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def new_secret() -> str:
    """A secret for a link or a cookie: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", errors="replace")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(key).decode()


def check_password(password: str, stored: str) -> bool:
    try:
        kind, salt, key = stored.split("$")
        found = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32,
                               **SCRYPT)
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(found, base64.b64decode(key))


@dataclass(frozen=True)
class Session:
    who: str        # a student's id, or INSTRUCTOR
    csrf: str

    @property
    def is_instructor(self) -> bool:
        return self.who == INSTRUCTOR

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, sent)


def open_session(tx: Transaction, who: str) -> str:
    """A new session for ``who``; the cookie's value (stored only as its digest)."""
    cookie = new_secret()
    tx.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))  # the table stays small
    tx.execute("INSERT INTO sessions (token_sha256, who, csrf, expires) VALUES (?, ?, ?, ?)",
               (digest(cookie), who, new_secret(), time.time() + SESSION_SECONDS))
    return cookie


def find_session(tx: Transaction, cookie: str | None) -> Session | None:
    """The session of ``cookie`` if it exists and has not expired."""
    if not cookie or len(cookie) > 200:
        return None
    row = tx.one("SELECT who, csrf, expires FROM sessions WHERE token_sha256 = ?",
                 (digest(cookie),))
    if row is None or row["expires"] < time.time():
        return None
    return Session(row["who"], row["csrf"])


def close_session(tx: Transaction, cookie: str | None) -> None:
    if cookie:
        tx.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest(cookie),))


def student_of_link(tx: Transaction, token: str) -> tuple[str | None, str]:
    """The student a sign-in link names, or None and why not (unknown, expired)."""
    if not token or len(token) > 200:
        return None, "this sign-in link is not valid"
    row = tx.one("SELECT id, token_expires FROM students WHERE token_sha256 = ?",
                 (digest(token),))
    if row is None:
        return None, "this sign-in link is not valid"
    if row["token_expires"] < time.time():
        return None, "this sign-in link has expired: ask your instructor for a new one"
    return row["id"], ""
