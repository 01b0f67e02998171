"""Attacks on the course site, each refused: script in a submission's output, exception
text and file name; forged forms; others' ids; expired and forged tokens; a zip bomb, a
100 MB upload, a flood of uploads, a path-traversal file name."""
from __future__ import annotations

import io
import re
import socket
import threading
import time
import zipfile

import pytest

from grader.serve import auth, queue
from tests.support.classroom import reference_source
from tests.support.site import csrf, make_site, upload

SNIPPET = "return np.maximum(inputs, 0.0)"
XSS_OUTPUT = "<script>alert('output')</script>"
XSS_EXCEPTION = "<img src=x onerror=alert('exception')>"
XSS_NAME = '"><svg onload=alert(1)>.py'


@pytest.fixture
def site(tmp_path, fast_unit_cases):
    made = make_site(tmp_path / "site", None, cases_dir=fast_unit_cases)
    yield made
    made.close()


def hostile_relu() -> bytes:
    source = reference_source()
    assert SNIPPET in source
    return source.replace(SNIPPET, f"print({XSS_OUTPUT!r}); raise ValueError({XSS_EXCEPTION!r})"
                          ).encode()


def count(site, table: str) -> int:
    with site.db.transaction(write=False) as tx:
        return tx.value(f"SELECT COUNT(*) AS n FROM {table}")


def test_script_in_output_exception_and_file_name_is_shown_as_text(site):
    alice = site.student("alice")
    number = upload(alice, hostile_relu(), XSS_NAME).json()["id"]
    site.drain(queue.UNIT)
    pages = [alice.get(f"/submissions/{number}"), alice.get("/"),
             site.instructor().get(f"/instructor/submissions/{number}")]
    fragment = alice.get(f"/api/submissions/{number}").json()["html"]
    for text in [page.text for page in pages] + [fragment]:
        assert XSS_OUTPUT not in text and XSS_EXCEPTION not in text and "<svg" not in text
    assert "&lt;img src=x onerror=alert(" in fragment      # the exception, as text
    assert "&lt;script&gt;alert(" in fragment              # what it printed, as text
    assert "&lt;svg onload=alert(1)&gt;.py" in pages[0].text
    for page in pages:
        policy = page.headers["content-security-policy"]
        assert "script-src 'nonce-" in policy and "unsafe-inline" not in policy
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        scripts = re.findall(r"<script([^>]*)>", page.text)
        assert all(f'nonce="{nonce}"' in attributes for attributes in scripts)
        assert page.headers["x-frame-options"] == "DENY"


def test_a_post_without_the_session_csrf_token_changes_nothing(site):
    alice, teacher = site.student("alice"), site.instructor()
    bob_token = csrf(site.student("bob").get("/").text)
    for token in ("", "forged", bob_token):
        assert upload(alice, b"x = 1\n", token=token).status_code == 403
        assert teacher.post("/instructor/regrade", data={"csrf": token}).status_code == 403
        assert teacher.post("/instructor/settings", data={
            "csrf": token, "deadline": "", "submissions_per_hour": 1, "max_upload_mb": 1,
            "title": "pwned"}).status_code == 403
    anonymous = site.client()
    assert anonymous.post("/submissions", data={"csrf": bob_token},
                          files={"file": ("a.py", b"x = 1\n")}).status_code == 401
    assert anonymous.post("/instructor/regrade", data={"csrf": bob_token}).status_code == 401
    assert alice.post("/instructor/regrade", data={"csrf": csrf(alice.get("/").text)}
                      ).status_code == 401  # a student is not the instructor
    assert count(site, "submissions") == 0 and count(site, "jobs") == 0
    assert "pwned" not in teacher.get("/instructor").text
    cookie = alice.cookies.get(auth.SESSION_COOKIE)
    assert cookie and len(cookie) >= 40


def test_another_students_submission_is_a_404_like_one_that_does_not_exist(site):
    alice, bob = site.student("alice"), site.student("bob")
    number = upload(alice, reference_source().encode()).json()["id"]
    for path in (f"/submissions/{number}", f"/api/submissions/{number}"):
        assert alice.get(path).status_code == 200
        stolen, missing = bob.get(path), bob.get(path.replace(str(number), "999"))
        assert stolen.status_code == missing.status_code == 404
        assert "no such submission" in stolen.text and "no such submission" in missing.text
    assert bob.get("/instructor/submissions/1").status_code == 401
    assert "No submission yet" in bob.get("/").text


def test_expired_and_forged_tokens_and_sessions_sign_nobody_in(site):
    client = site.client()
    assert client.get("/signin/" + auth.new_secret()).status_code == 403
    assert client.get("/signin/" + "A" * 500).status_code == 403
    with site.db.transaction() as tx:
        tx.execute("UPDATE students SET token_expires = ? WHERE id = 'carol'", (time.time() - 1,))
    expired = client.get(site.links["carol"].split("8000", 1)[1])
    assert expired.status_code == 403 and "expired" in expired.text
    assert auth.SESSION_COOKIE not in client.cookies
    alice = site.student("alice")
    with site.db.transaction() as tx:
        tx.execute("UPDATE sessions SET expires = ?", (time.time() - 1,))
    assert alice.get("/api/submissions/1").status_code == 401
    forged = site.client()
    forged.cookies.set(auth.SESSION_COOKIE, auth.new_secret())
    assert "sign-in link" in forged.get("/").text
    teacher = site.client()
    form = teacher.get("/login")
    wrong = teacher.post("/login", data={"password": "guess", "csrf": csrf(form.text)})
    assert wrong.status_code == 403 and auth.SESSION_COOKIE not in teacher.cookies


def test_a_zip_bomb_is_refused_before_it_is_stored(site):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("solution.py", b"#" * (200 << 20))
    assert len(bomb.getvalue()) < 1 << 20
    refused = upload(site.student("alice"), bomb.getvalue(), "solution.zip")
    assert refused.status_code == 400 and "zip bomb" in refused.json()["error"]
    assert count(site, "submissions") == 0


def test_a_100_mb_upload_gets_413_without_being_read(site):
    alice = site.student("alice")
    token = csrf(alice.get("/").text)
    big = alice.post("/submissions", data={"csrf": token},
                     files={"file": ("solution.py", b"#" * (100 << 20))})
    assert big.status_code == 413
    chunks = iter([b"--x\r\n"] + [b"#" * (1 << 20)] * 100)  # no Content-Length: streamed
    streamed = alice.post("/submissions", content=chunks,
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413
    assert count(site, "submissions") == 0


def test_fifty_uploads_in_a_second_from_one_student_store_only_the_hourly_limit(site):
    alice = site.student("alice")
    token = csrf(alice.get("/").text)
    statuses: list[int] = []

    def send() -> None:
        statuses.append(upload(alice, b"x = 1\n", token=token).status_code)

    threads = [threading.Thread(target=send) for _ in range(50)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 10
    limit = site.app.app.state.settings.submissions_per_hour
    assert sorted(statuses) == [201] * limit + [429] * (50 - limit)
    assert count(site, "submissions") == limit


def test_a_path_traversal_file_name_names_nothing_on_disk(site, tmp_path):
    alice = site.student("alice")
    name = "../../../../tmp/" + tmp_path.name + "-escaped/solution.py"
    number = upload(alice, reference_source().encode(), name).json()["id"]
    site.drain(queue.UNIT)
    page = alice.get(f"/submissions/{number}").text
    assert "Submission 1: solution.py" in page and "../" not in page
    assert not (tmp_path.parent / (tmp_path.name + "-escaped")).exists()
    assert alice.get(f"/api/submissions/{number}").json()["total"] == 4.0


def test_a_live_server_refuses_an_oversized_declared_upload_at_once(site):
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(site.app, port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            started = time.monotonic()
            connection.sendall(b"POST /submissions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               b"multipart/form-data; boundary=x\r\nContent-Length: "
                               + str(100 << 20).encode() + b"\r\n\r\n")
            answer = connection.recv(4096)  # answered with no byte of the body sent
        assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 2
    finally:
        server.should_exit = True
        thread.join(timeout=10)
