"""The course site's image as an instructor runs it (docker/serve/Dockerfile, built by
docker/serve/build.sh from the one allowlist): no secret inside, `grader serve init` in the
container, a student signs in by link, uploads, and the unit sections are graded in the box
inside the container."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from grader.paths import REPO_DIR
from tests.grading_fixtures import synthetic_mnist_cache
from tests.support.live_site import free_port, sign_in

pytestmark = pytest.mark.docker
IMAGE = "nn-grader-serve:test"


def docker(*args: str, timeout: float = 120) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def image() -> str:
    done = subprocess.run(["bash", "docker/serve/build.sh"], cwd=REPO_DIR, capture_output=True,
                          text=True, timeout=1800, check=False,
                          env={**os.environ, "IMAGE": IMAGE, "PYTHON": sys.executable})
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    yield IMAGE
    subprocess.run(["docker", "image", "rm", "-f", IMAGE], capture_output=True, check=False)


def test_the_image_holds_the_grader_and_no_secret(image):
    listing = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c",
                     "ls /opt/nn-grader/src/reference /opt/nn-grader/src/test_cases")
    assert "interface.py" in listing and "hidden" in listing
    assert "solution.py" not in listing and "generate.py" not in listing


def test_a_student_is_graded_by_the_site_in_its_container(image, tmp_path):
    cache = synthetic_mnist_cache(tmp_path / "mnist")
    port = free_port()
    name = f"nn-grader-serve-test-{port}"
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000",
           "-v", f"{cache}:/srv/mnist-cache:ro", image,
           "grader", "serve", "--data", "/srv/grader-site", "--host", "0.0.0.0",
           "--port", "8000", "--no-download", "--mnist-workers", "1")
    try:
        url = f"http://127.0.0.1:{port}"
        roster = tmp_path / "roster.csv"
        roster.write_text("student_id,name,email\nada,Ada,ada@example.org\n", encoding="utf-8")
        docker("cp", str(roster), f"{name}:/srv/roster.csv")
        said = docker("exec", name, "grader", "serve", "init", "--data", "/srv/grader-site",
                      "--roster", "/srv/roster.csv", "--links", "/srv/links.csv",
                      "--base-url", url)
        assert "instructor password (shown once)" in said
        link = docker("exec", name, "cat", "/srv/links.csv").splitlines()[1].split(",", 1)[1]
        assert _healthy(url)["database"] == "sqlite"

        client, token = sign_in(url, link.removeprefix(url))
        source = (REPO_DIR / "reference" / "solution.py").read_bytes()
        answer = client.post("/submissions", data={"csrf": token},
                             files={"file": ("solution.py", source)},
                             headers={"Accept": "application/json"})
        assert answer.status_code == 201, answer.text
        state = _wait_for_unit(client, f"/api/submissions/{answer.json()['id']}")
        unit = next(lane for lane in state["lanes"] if lane["lane"] == "unit")
        assert unit["state"] == "done", state
        page = client.get(f"/submissions/{answer.json()['id']}").text
        assert "2.1.1 ReLU" in page and "passed" in page
    finally:
        logs = subprocess.run(["docker", "logs", "--tail", "30", name], capture_output=True,
                              text=True, check=False)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    assert "Traceback" not in logs.stdout + logs.stderr


def _healthy(url: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url + "/healthz", timeout=5)
            if answer.status_code == 200:
                return answer.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the site in the container did not answer /healthz in {timeout} s")


def _wait_for_unit(client: httpx.Client, state_url: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(state_url).json()
        if any(lane["lane"] == "unit" and lane["state"] == "done" for lane in state["lanes"]):
            return state
        time.sleep(0.5)
    raise AssertionError(f"no unit result within {timeout} s: {state}")
