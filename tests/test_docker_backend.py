"""The Docker backend: one container per submission, same verdicts as the process backend.

Needs a Docker engine and the grading image (``bash docker/engine.sh start`` and
``bash docker/build_images.sh``); run with ``python -m pytest -m docker``.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.config import DockerSettings
from grader.docker_backend import docker_unavailable
from grader.grading import GradingError, GradingOptions, grade_submission
from grader.report_model import GradingReport, Verdict
from tests.grading_fixtures import (REFERENCE_SOLUTION, TEMPLATE_SOLUTION, cases_with_limits,
                                    solution_with, synthetic_mnist_cache)

pytestmark = pytest.mark.docker

IMAGE = DockerSettings().image
UNIT = GradingOptions(skip_mnist=True, backend="docker")
UNIT_PROCESS = GradingOptions(skip_mnist=True)
RELU_RETURN = "        return np.maximum(inputs, 0.0)\n"
SOFTMAX_FIRST = "        exps = np.exp(inputs - inputs.max(axis=1, keepdims=True))\n"
DENSE_RETURN = "        return inputs @ self.weights + self.biases\n"
LOSS_FIRST = "        safe_pred = np.maximum(y_pred, np.finfo(np.float64).tiny)\n"
REGION = re.compile(r"(# Your code here \\/\n)(.*?)(\n[ \t]*# Your code here /\\)", re.DOTALL)


def _leftovers() -> list[str]:
    """What `docker ps -a --filter label=nn-grader` shows (through the SDK)."""
    import docker

    client = docker.from_env(timeout=20)
    return [container.name for container in
            client.containers.list(all=True, filters={"label": "nn-grader"})]


@pytest.fixture(scope="module", autouse=True)
def docker_engine():
    reason = docker_unavailable(IMAGE)
    if reason:
        pytest.skip(reason)
    assert _leftovers() == [], "containers of an earlier run are still there"
    yield
    assert _leftovers() == [], "grading containers were left behind"


def with_code(tmp_path: Path, *inserts: str, name: str = "solution.py") -> Path:
    """The reference solution with code inserted: pairs of (line it goes before, code)."""
    source = REFERENCE_SOLUTION.read_text(encoding="utf-8")
    for before, code in zip(inserts[::2], inserts[1::2]):
        assert before in source, f"not in the reference solution: {before!r}"
        indented = textwrap.indent(textwrap.dedent(code).strip("\n"), " " * 8) + "\n"
        source = source.replace(before, indented + before, 1)
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


def template_solution(tmp_path: Path) -> Path:
    """The students' template; made here (region bodies -> pass) if it does not exist yet."""
    if TEMPLATE_SOLUTION.is_file():
        return TEMPLATE_SOLUTION
    source = REGION.sub(lambda m: m.group(1) + re.match(r"\s*", m.group(2)).group(0) + "pass" + m.group(3),
                        REFERENCE_SOLUTION.read_text(encoding="utf-8"))
    path = tmp_path / "template_solution.py"
    path.write_text(source, encoding="utf-8")
    return path


def by_name(report: GradingReport) -> dict:
    return {section.name: section for section in report.sections}


def verdicts(report: GradingReport) -> list:
    return [(s.name, s.points, s.status, s.message, [(c.visibility, c.name, c.verdict, c.message)
                                                    for c in s.cases]) for s in report.sections]


# --------------------------------------------------------------------------- scores
def test_reference_scores_five_of_five_with_mnist_in_the_image():
    report = grade_submission(REFERENCE_SOLUTION, GradingOptions(backend="docker"))
    assert report.total == 5.0, [(s.name, s.status, s.message) for s in report.sections]
    mnist = by_name(report)["mnist"].mnist
    assert mnist.accuracy > 0.9 and mnist.test_size in (10000, 2000)
    assert report.sandbox.backend == "docker" and report.sandbox.isolation == "container"
    assert report.sandbox.network_cut and report.sandbox.secrets_hidden
    assert report.sandbox.sandbox_uid not in (None, 0)


def test_template_scores_zero_in_docker(tmp_path):
    report = grade_submission(template_solution(tmp_path), GradingOptions(backend="docker"))
    assert report.total == 0.0
    sections = by_name(report)
    for name in ("relu", "softmax", "dense", "crossentropy", "sgd", "momentum"):
        assert sections[name].status == Verdict.wrong_answer
        assert "expected a numpy ndarray of floats, got NoneType" in sections[name].message
    assert sections["mnist"].status == Verdict.exception  # a stub body fails fast, in any case
    assert "train_mnist_model" in sections["mnist"].message


def test_both_backends_give_identical_points_and_verdicts(tmp_path):
    broken = solution_with(tmp_path, "return np.maximum(inputs, 0.0)", "return np.abs(inputs)",
                           "broken.py")
    for submission in (REFERENCE_SOLUTION, template_solution(tmp_path), broken):
        docker_report = grade_submission(submission, UNIT)
        process_report = grade_submission(submission, UNIT_PROCESS)
        assert verdicts(docker_report) == verdicts(process_report), submission.name
        assert docker_report.total == process_report.total
        assert docker_report.warnings == process_report.warnings
    assert docker_report.total == 3.5


def test_cli_grades_with_the_docker_backend_and_writes_reports(tmp_path):
    report_path, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    result = subprocess.run([sys.executable, "-m", "grader", "grade", str(REFERENCE_SOLUTION),
                             "--skip-mnist", "--backend", "docker", "--image", IMAGE,
                             "--json", str(report_path), "--junit", str(junit)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["total"] == 4.0 and report["sandbox"]["backend"] == "docker"
    assert junit.read_text().startswith("<?xml")


# --------------------------------------------------------------------------- hostile code
def test_no_network_in_the_container(tmp_path):
    # a UDP connect sends nothing: it only asks the kernel for a route (TEST-NET-1 address)
    probe = with_code(tmp_path, RELU_RETURN, """
        import socket
        names = sorted(name for _, name in socket.if_nameindex())
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.connect(("192.0.2.1", 9))
            route = "yes"
        except OSError as error:
            route = f"no ({error.strerror})"
        raise RuntimeError(f"NET interfaces={names} route={route}")
    """)
    report = grade_submission(probe, UNIT)
    relu = by_name(report)["relu"]
    assert relu.status == Verdict.exception
    assert "NET interfaces=['lo'] route=no" in relu.message
    assert report.total == 3.5


def test_fork_bomb_is_stopped_and_cleaned_up_before_the_next_section(tmp_path):
    bomb = with_code(tmp_path, SOFTMAX_FIRST, """
        import os, time
        parent, forks = os.getpid(), 0
        while True:
            try:
                pid = os.fork()
            except OSError as error:
                if os.getpid() == parent:
                    raise RuntimeError(f"FORKBOMB stopped after {forks} forks: {error.strerror}")
                time.sleep(0.05)
                continue
            if os.getpid() == parent:
                forks += 1
    """, LOSS_FIRST, """
        import os
        others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit()
                        and int(p) not in (1, os.getpid()))
        if others:
            raise RuntimeError(f"LEFTOVER processes {others}")
    """)
    report = grade_submission(bomb, UNIT)
    sections = by_name(report)
    assert sections["softmax"].status == Verdict.exception
    forks = int(re.search(r"FORKBOMB stopped after (\d+) forks", sections["softmax"].message)[1])
    assert forks < 64  # RLIMIT_NPROC of the unit sections is 32
    assert sections["crossentropy"].status == Verdict.passed, sections["crossentropy"].message
    assert report.total == 3.0


def test_memory_bomb_hits_the_address_space_limit(tmp_path):
    bomb = with_code(tmp_path, DENSE_RETURN, """
        blocks = []
        while True:
            blocks.append(bytearray(64 << 20))
    """)
    report = grade_submission(bomb, UNIT)
    dense = by_name(report)["dense"]
    assert dense.status in (Verdict.memory_limit, Verdict.exception)
    assert "MemoryError" in dense.message
    assert report.total == 3.0


def test_container_memory_limit_kills_a_section_that_passes_its_rlimit(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "[unit]\nmemory_mb = 8192\n"
                                                  "[docker]\nmemory_mb = 512\n")
    bomb = with_code(tmp_path, DENSE_RETURN, """
        blocks = []
        while True:
            blocks.append(np.ones(8 << 20))  # 64 MB, touched
    """)
    report = grade_submission(bomb, GradingOptions(cases_dir=cases, skip_mnist=True,
                                                   backend="docker"))
    dense = by_name(report)["dense"]
    assert dense.status == Verdict.killed and "SIGKILL" in dense.message
    assert report.total == 3.0


def test_writes_outside_the_scratch_space_fail(tmp_path):
    writer = with_code(tmp_path, RELU_RETURN, """
        import json, os
        outcome = {}
        for folder in ("/", "/usr", "/etc", "/opt/nn-grader/app/grader", "/opt/nn-grader/mnist",
                       "/out", "/spec", "/cases/public", "/var/tmp", "/home"):
            try:
                with open(os.path.join(folder, "pwned.txt"), "w") as stream:
                    stream.write("pwned")
                outcome[folder] = "written"
            except OSError as error:
                outcome[folder] = error.strerror
        for secret in ("/out", "/proc/1/environ", "/proc/1/fd"):
            try:
                os.listdir(secret) if secret != "/proc/1/environ" else open(secret).read()
                outcome["read " + secret] = "read"
            except OSError as error:
                outcome["read " + secret] = error.strerror
        raise RuntimeError("WRITES " + json.dumps(outcome))
    """)
    report = grade_submission(writer, UNIT)
    relu = by_name(report)["relu"]
    outcome = json.loads(re.search(r"WRITES (\{.*\})", relu.message)[1])
    assert len(outcome) == 13
    assert "written" not in outcome.values() and "read" not in outcome.values(), outcome
    assert report.total == 3.5


def test_infinite_loop_times_out_and_the_other_sections_keep_their_points(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 2\n")
    looper = with_code(tmp_path, RELU_RETURN, "while True:\n    pass\n")
    started = time.perf_counter()
    report = grade_submission(looper, GradingOptions(cases_dir=cases, skip_mnist=True,
                                                     backend="docker"))
    relu = by_name(report)["relu"]
    assert relu.status == Verdict.timeout
    assert "time limit of 2 s exceeded" in relu.message
    assert report.total == 3.5
    assert time.perf_counter() - started < 15


def test_killing_its_parent_leaves_the_grader_running(tmp_path):
    killer = with_code(tmp_path, RELU_RETURN, """
        import os, signal
        for target in {os.getppid(), 1}:
            for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
                try:
                    os.kill(target, number)
                except OSError:
                    pass
        try:
            os.kill(-1, signal.SIGKILL)  # everyone else it may signal
        except OSError:
            pass
    """)
    report = grade_submission(killer, UNIT)
    assert [s.status for s in report.sections[:6]] == [Verdict.passed] * 6
    assert report.total == 4.0


def test_a_container_past_the_overall_timeout_is_killed_and_removed(tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 1\n"
                                                  "[docker]\ntimeout_margin_seconds = 0\n")
    looper = tmp_path / "solution.py"
    looper.write_text(REFERENCE_SOLUTION.read_text().replace(
        "from interface import *\n", "from interface import *\nwhile True:\n    pass\n", 1))
    started = time.perf_counter()
    report = grade_submission(looper, GradingOptions(cases_dir=cases, skip_mnist=True,
                                                     backend="docker"))
    assert time.perf_counter() - started < 30
    assert all(section.status == Verdict.timeout for section in report.sections[:6])
    assert report.total == 0.0
    assert "overran its time" in report.sections[5].output_tail


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_grader_removes_its_container(tmp_path, number):
    looper = with_code(tmp_path, RELU_RETURN, "import time\ntime.sleep(600)\n")
    grader = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(looper),
                               "--skip-mnist", "--backend", "docker"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _leftovers():
            assert grader.poll() is None and time.monotonic() < deadline, "no container started"
            time.sleep(0.1)
        time.sleep(0.5)
        grader.send_signal(number)
        grader.wait(timeout=60)
    finally:
        if grader.poll() is None:
            grader.kill()
    assert grader.returncode != 0
    assert _leftovers() == []


# --------------------------------------------------------------------------- the image
def test_image_holds_no_secret_and_runs_as_non_root():
    import docker

    client = docker.from_env(timeout=60)
    image = client.images.get(IMAGE)
    assert image.attrs["Config"]["User"] not in ("", "0", "root")
    found = client.containers.run(
        IMAGE, ["sh", "-c", "find / -xdev \\( -name solution.py -o -name generate.py "
                            "-o -name test_labels.npy -o -name '*_gt' -o -name test_cases "
                            "-o -name grading_fixtures.py -o -name grading.toml \\) -print 2>/dev/null; "
                            "ls /opt/nn-grader/mnist; id -u"],
        remove=True, network_mode="none", labels={"nn-grader": "1"}).decode()
    lines = found.split()
    assert lines[-1] != "0"
    assert sorted(lines[:-1]) == ["info.json", "test_images.npy", "train.npz"], found


def test_an_image_with_other_mnist_data_is_refused(tmp_path):
    cache = synthetic_mnist_cache(tmp_path / "cache", n_train=100, n_test=20)
    options = GradingOptions(backend="docker", mnist_cache_dir=cache, mnist_fetch=False)
    with pytest.raises(GradingError, match="rebuild the grading image"):
        grade_submission(REFERENCE_SOLUTION, options)


def test_a_missing_image_is_a_clear_error():
    with pytest.raises(GradingError, match="does not exist; build it"):
        grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True, backend="docker",
                                                            image="nn-grader:no-such-tag"))
