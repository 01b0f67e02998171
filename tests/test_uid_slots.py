"""Gradings at the same time get different uids; a slot is freed with its holder."""
from __future__ import annotations

import subprocess
import sys
import tempfile

import pytest

from grader.boxes import uid_slots


@pytest.fixture(autouse=True)
def private_locks(monkeypatch, tmp_path):
    directory = tmp_path / "locks"
    directory.mkdir(mode=0o700)
    monkeypatch.setattr(uid_slots, "lock_directory", lambda: directory)
    return directory


def test_holders_in_threads_get_distinct_uids_and_a_freed_slot_is_reused():
    with uid_slots.grading_uid(5000, 3) as first, uid_slots.grading_uid(5000, 3) as second:
        assert {first, second} == {5000, 5001}
    with uid_slots.grading_uid(5000, 3) as again:
        assert again == 5000


def test_with_every_slot_taken_the_next_grading_waits_or_says_so():
    with uid_slots.grading_uid(5000, 1):
        with pytest.raises(uid_slots.NoFreeSlot, match="stayed in use"):
            with uid_slots.grading_uid(5000, 1, wait_seconds=0.2):
                pass
    with uid_slots.grading_uid(5000, 1, wait_seconds=1) as uid:
        assert uid == 5000


def test_a_killed_holder_frees_its_slot(private_locks):
    holder = subprocess.Popen([sys.executable, "-c", f"""
import fcntl, os, sys, time
descriptor = os.open({str(private_locks / '5000.lock')!r}, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with uid_slots.grading_uid(5000, 2) as uid:
        assert uid == 5001
    holder.kill()
    holder.wait()
    with uid_slots.grading_uid(5000, 2) as uid:
        assert uid == 5000


def test_a_lock_directory_others_can_write_is_refused(monkeypatch, tmp_path):
    monkeypatch.undo()
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(uid_slots.os, "geteuid", lambda: 12345)
    (tmp_path / "nn-grader-uids-12345").mkdir(mode=0o777)
    (tmp_path / "nn-grader-uids-12345").chmod(0o777)
    with pytest.raises(uid_slots.NoFreeSlot, match="not private"):
        uid_slots.lock_directory()
