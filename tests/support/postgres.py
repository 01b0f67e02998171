"""A throwaway PostgreSQL cluster for the service tests: initdb and pg_ctl in a temporary
folder, on a free port of 127.0.0.1, as ``nobody`` when the tests run as root (PostgreSQL
refuses to run as root). Missing binaries are a skip that says what to install."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

INSTALL = "no PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql"
USER = "nobody"


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (PATH first, then Debian's versioned folders)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A running cluster; its URL (database ``postgres``, user ``postgres``, no password)."""
    folder = binaries()
    if folder is None:
        pytest.skip(INSTALL)
    root = Path(tempfile.mkdtemp(prefix="nn-grader-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, USER)
    data, port = root / "data", _free_port()
    subprocess.run(_as_user([str(folder / "initdb"), "-D", str(data), "-U", "postgres",
                             "-A", "trust", "--no-sync", "-E", "UTF8"]),
                   check=True, capture_output=True, cwd=root)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off " \
              "-c max_connections=200"
    subprocess.run(_as_user([str(folder / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                             "-l", str(root / "log"), "start"]),
                   check=True, capture_output=True, cwd=root)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_user([str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"]), capture_output=True, cwd=root, check=False)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """A new empty database on the cluster of ``url``; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"
