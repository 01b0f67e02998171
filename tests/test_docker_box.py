"""The Docker box: the same supervisor in a container, the same verdicts as bubblewrap.

Needs a Docker engine and the grading image (``bash docker/engine.sh start`` and
``bash docker/build_images.sh``); run with ``python -m pytest -m docker``. The
hostile submissions run in containers too: ``tests/test_hostile_submissions.py``
with ``-m docker``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from grader.boxes.base import BoxUnavailable
from grader.boxes.docker import CONTAINER_LABEL, GRADER_LABEL, DockerBox, docker_client, running
from grader.config import DockerSettings
from grader.options import GradingOptions
from grader.pipeline import GradingError, grade_submission
from grader.reports.model import GradingReport, Verdict
from tests.grading_fixtures import (
    PLOTS_AND_PROGRESS,
    REFERENCE_SOLUTION,
    TEMPLATE_SOLUTION,
    solution_with,
    synthetic_mnist_cache,
    with_header,
)

pytestmark = pytest.mark.docker

IMAGE = DockerSettings().image
UNIT = GradingOptions(skip_mnist=True, box="docker")
UNIT_PROCESS = GradingOptions(skip_mnist=True)


def containers(grader: int | None = None) -> list[dict]:
    """What `docker ps -a --filter label=nn-grader` shows, in one call (listing container
    objects inspects each after the list: one being created or removed meanwhile is a 404):
    those of ``grader`` (a pid), else those of this test process and of graders no longer
    running. Those of another grading running on the machine meanwhile are never this
    module's."""
    listed = docker_client(timeout=20).api.containers(all=True, filters={"label": CONTAINER_LABEL})

    def ours(container: dict) -> bool:
        host, _, pid = (container.get("Labels") or {}).get(GRADER_LABEL, "").partition(":")
        if not pid.isdigit():
            return grader is None  # whose it is, nobody can tell: counted
        if host != socket.gethostname():
            return False  # another machine's, on a shared engine
        if grader is not None:
            return int(pid) == grader
        return int(pid) == os.getpid() or not running(int(pid))
    return [container for container in listed if ours(container)]


@pytest.fixture(scope="module", autouse=True)
def docker_engine():
    try:
        DockerBox(IMAGE, DockerSettings())
    except BoxUnavailable as error:
        pytest.skip(str(error))
    assert containers() == [], "containers of an earlier run are still there"
    yield
    assert containers() == [], "grading containers were left behind"


def verdicts(report: GradingReport) -> list:
    return [(s.name, s.points, s.verdict, s.message, [(c.visibility, c.name, c.verdict, c.message)
                                                    for c in s.cases]) for s in report.sections]


def test_reference_scores_five_of_five_with_mnist_from_the_image():
    report = grade_submission(REFERENCE_SOLUTION, GradingOptions(box="docker"))
    assert report.total == 5.0, [(s.name, s.verdict, s.message) for s in report.sections]
    mnist = report.sections[-1].mnist
    assert mnist.accuracy > 0.9 and mnist.test_size in (10000, 2000)
    assert report.sandbox.box == "docker"
    assert report.sandbox.network_cut and report.sandbox.secrets_hidden
    assert report.sandbox.uid not in (None, 0)


def test_docker_and_bwrap_boxes_give_identical_points_and_verdicts(tmp_path):
    broken = solution_with(tmp_path, "return np.maximum(inputs, 0.0)", "return np.abs(inputs)",
                           "broken.py")
    for submission in (REFERENCE_SOLUTION, TEMPLATE_SOLUTION, broken):
        docker_report = grade_submission(submission, UNIT)
        process_report = grade_submission(submission, UNIT_PROCESS)
        assert verdicts(docker_report) == verdicts(process_report), submission.name
        assert docker_report.warnings == process_report.warnings
    assert docker_report.total == 3.5


def test_the_image_holds_the_box_packages_and_nothing_else_of_the_host(tmp_path):
    plots = grade_submission(with_header(tmp_path, PLOTS_AND_PROGRESS), UNIT)
    assert plots.total == 4.0, [(s.name, s.verdict, s.message) for s in plots.sections]
    host_package = with_header(tmp_path, "import pydantic\n")
    docker_report = grade_submission(host_package, UNIT)
    assert verdicts(docker_report) == verdicts(grade_submission(host_package, UNIT_PROCESS))
    assert docker_report.total == 0
    assert "'pydantic' is not there" in docker_report.sections[0].message


def test_cli_grades_in_the_docker_box_and_writes_reports(tmp_path):
    report_path, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    result = subprocess.run([sys.executable, "-m", "grader", "grade", str(REFERENCE_SOLUTION),
                             "--skip-mnist", "--box", "docker", "--image", IMAGE,
                             "--json", str(report_path), "--junit", str(junit)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["total"] == 4.0 and report["sandbox"]["box"] == "docker"
    assert junit.read_text().startswith("<?xml")


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_grader_leaves_no_container_running(tmp_path, number):
    looper = solution_with(tmp_path, "return np.maximum(inputs, 0.0)",
                           "import time; time.sleep(600)")
    grader = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(looper),
                               "--skip-mnist", "--box", "docker"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not containers(grader.pid):
            assert grader.poll() is None and time.monotonic() < deadline, "no container started"
            time.sleep(0.1)
        time.sleep(1.0)
        grader.send_signal(number)
        grader.wait(timeout=60)
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
    deadline = time.monotonic() + 30  # SIGKILL: the container sees its stdin end and stops
    while [c for c in containers(grader.pid) if c["State"] == "running"] and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert [c["Names"] for c in containers(grader.pid) if c["State"] == "running"] == []
    grade_submission(REFERENCE_SOLUTION, UNIT)  # the next grading removes what is left
    assert containers(grader.pid) == []


def test_the_image_holds_no_grader_no_secret_and_runs_as_non_root():
    client = docker_client()
    image = client.images.get(IMAGE)
    assert image.attrs["Config"]["User"] not in ("", "0", "root")
    found = client.containers.run(
        IMAGE, ["sh", "-c", "find / -xdev \\( -name solution.py -o -name generate.py "
                            "-o -name test_labels.npy -o -name '*_gt' -o -name test_cases "
                            "-o -name grader -o -name grading.toml \\) -print 2>/dev/null; "
                            "ls /opt/nn-grader/mnist; id -u"],
        remove=True, network_mode="none").decode()
    lines = found.split()
    assert lines[-1] != "0"
    assert sorted(lines[:-1]) == ["test_images.npy", "train.npz"], found


def test_an_image_with_other_mnist_data_is_refused(tmp_path):
    cache = synthetic_mnist_cache(tmp_path / "cache", n_train=100, n_test=20)
    options = GradingOptions(box="docker", mnist_cache_dir=cache, mnist_fetch=False)
    with pytest.raises(GradingError, match="rebuild the grading image"):
        grade_submission(REFERENCE_SOLUTION, options)


def test_a_missing_image_is_a_clear_error():
    with pytest.raises(GradingError, match="does not exist; build it"):
        grade_submission(REFERENCE_SOLUTION, GradingOptions(skip_mnist=True, box="docker",
                                                            image="nn-grader:no-such-tag"))


def test_the_template_fails_every_section_in_docker_too():
    report = grade_submission(TEMPLATE_SOLUTION, GradingOptions(box="docker"))
    assert report.total == 0.0
    assert {section.verdict for section in report.sections} == {Verdict.wrong_answer,
                                                               Verdict.exception}


def test_a_batch_grades_in_containers_with_the_points_of_bubblewrap(tmp_path):
    from tests.grading_fixtures import cases_with_limits
    from tests.support.classroom import write_class

    sources = write_class(tmp_path / "class", 6)
    # 3 s a run: the fork bomb of the class ends by it, the other runs need milliseconds; no
    # submission of these six sleeps at import: a limit no busy machine reaches
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 3\n\n[box]\n"
                              "import_timeout_seconds = 60\n")
    outs = {box: tmp_path / box for box in ("bwrap", "docker")}
    for box, out in outs.items():
        done = subprocess.run([sys.executable, "-m", "grader", "batch", str(tmp_path / "class"),
                               "--out", str(out), "--skip-mnist", "--jobs", "2",
                               "--box", box, "--cases", str(cases)],
                              capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
    books = {box: json.loads((out / "gradebook.json").read_text()) for box, out in outs.items()}
    assert [row["student"] for row in books["docker"]] == sorted(sources)
    assert [(row["student"], row["total"]) for row in books["docker"]] == \
        [(row["student"], row["total"]) for row in books["bwrap"]]
