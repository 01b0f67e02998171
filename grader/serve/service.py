"""What ``grader serve`` and ``grader serve init`` do, apart from parsing their options."""
from __future__ import annotations

import getpass
import secrets
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from grader.serve import course, results
from grader.serve.bridge import Batch, GradebookError, Graded, Read, Section, newest_key
from grader.serve.db import SQLITE_FILE, DatabaseError, connect, open_database
from grader.serve.options import ServeOptions


class ServeError(Exception):
    """The site cannot start or be set up; the message says why."""


def _roster(path: Path) -> list[tuple[str, str, str]]:
    try:
        return course.read_roster(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ServeError(f"cannot read the roster {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ServeError(f"the roster {path} is not UTF-8 text") from None
    except course.CourseError as error:
        raise ServeError(f"{path}: {error}") from None


def _password() -> tuple[str, bool]:
    """Asked on a terminal; otherwise generated (True: to be printed once)."""
    if sys.stdin.isatty():
        first = getpass.getpass("instructor password: ")
        if len(first) < 8:
            raise ServeError("the password must have at least 8 characters")
        if getpass.getpass("again: ") != first:
            raise ServeError("the two passwords differ")
        return first, False
    return secrets.token_urlsafe(15), True


def init_site(data: Path, db_url: str | None, roster_path: Path, links: Path | None,
              base_url: str, link_days: float) -> list[str]:
    """Create or update the course; the lines to print (links unless written to ``links``,
    the generated password)."""
    roster = _roster(roster_path)
    password, generated = _password()
    try:
        database = open_database(db_url, data)
    except DatabaseError as error:
        raise ServeError(str(error)) from None
    try:
        made = course.init_course(database, roster, password, base_url, link_days)
    finally:
        database.close()
    lines = [f"{student},{link}" for student, link in made.items()]
    out = []
    if links is not None:
        try:
            links.write_text("student_id,link\n" + "\n".join(lines) + "\n", encoding="utf-8")
            links.chmod(0o600)
        except OSError as error:
            raise ServeError(f"cannot write {links}: {error.strerror}") from None
        out.append(f"{len(lines)} sign-in links written to {links}")
    else:
        out += lines
    if generated:
        out.append(f"instructor password (shown once): {password}")
    return out


@contextmanager
def site_gradings(data: Path | None, url: str | None) -> Iterator[Read]:
    """A course site's class for ``grader gradebook --site/--db``, read without a write:
    its roster, each student's newest recorded grading of the submission that counts.
    ``data`` is read without ``url``. ``GradebookError`` (the gradebook's, not the
    site's) when there is no such site."""
    local = Path(url.removeprefix("sqlite:///")) if url and url.startswith("sqlite:///") \
        else None if url else Path(data) / SQLITE_FILE
    if local is not None and not local.is_file():
        raise GradebookError(f"{local} does not exist: name the site's --data folder or --db")
    try:
        database = connect(url, data)
    except DatabaseError as error:
        raise GradebookError(str(error)) from None

    def read(sections: Sequence[Section]) -> Graded:
        with database.transaction(write=False) as tx:
            book, code = results.recorded_gradebook(tx, sections)
            newest = newest_key(tx)
        header = Batch(0, str(local or "the --db database"), "course site",
                       newest.cases_digest if newest else "",
                       newest.grader_version if newest else "", {}, "", None)
        return Graded(book, code, header)

    try:
        yield read
    finally:
        database.close()


def run(options: ServeOptions) -> None:
    """Serve until stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    from grader.serve.app import create_app

    try:
        database = open_database(options.db, options.data)
    except DatabaseError as error:
        raise ServeError(str(error)) from None
    if options.cluster:
        from grader.serve.workers import ClusterGrading

        try:  # fail now, not in every worker
            ClusterGrading(options.grading_options("unit"), options.cluster).client.close()
        except Exception as error:  # Dask's many connection errors
            raise ServeError(f"no Dask scheduler at {options.cluster}: {error}") from None
    app = create_app(options, database)
    try:
        uvicorn.run(app, host=options.host, port=options.port, access_log=False,
                    log_level="warning", proxy_headers=True, timeout_graceful_shutdown=10)
    finally:
        database.close()
