"""Hostile and broken submissions: the right verdict for the sabotaged section, full points for
the others, and nothing of the submission left behind (no process, no temporary directory).

Each submission is ``reference/solution.py`` followed by a small tail from
``tests/submissions/hostile/`` that overrides one section (see the README there).
Sandbox-specific scenarios need the namespace sandbox as root (the grader's normal setup).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from grader.grading import DEFAULT_CASES_DIR, GradingOptions, grade_submission
from grader.report_model import GradingReport, SectionResult, Verdict
from grader.sandbox import SANDBOX_UID_BASE, detect_isolation
from grader.sandbox_child import case_output_name
from reference import common
from tests.grading_fixtures import REFERENCE_SOLUTION, cases_with_limits

DROP_ROOT = "/run" if os.access("/run", os.W_OK) else "/var/lib"
HOSTILE_DIR = Path(__file__).resolve().parent / "submissions" / "hostile"
REFERENCE_SOURCE = REFERENCE_SOLUTION.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n"
UNIT_NAMES = [section.name for section in common.UNIT_SECTIONS]
UNIT_TOTAL = sum(section.points for section in common.UNIT_SECTIONS)
# A slot of its own: other test modules grade on slot 0 at the same time, and a fork bomb
# exhausts the process limit of its sandbox uid. This slot's uids are the ones scanned below.
SLOT = 3
SANDBOX_UIDS = range(SANDBOX_UID_BASE + SLOT * len(common.SECTIONS),
                     SANDBOX_UID_BASE + (SLOT + 1) * len(common.SECTIONS))

needs_sandbox = pytest.mark.skipif(
    not (detect_isolation().mode == "namespaces" and detect_isolation().drops_privileges),
    reason="needs the namespace sandbox as root (util-linux unshare)")


# ------------------------------------------------------------------- helpers
def hostile(name: str, directory: Path, **values) -> Path:
    """``directory/solution.py``: the reference solution followed by the tail ``name``."""
    tail = (HOSTILE_DIR / f"{name}.py").read_text(encoding="utf-8")
    for key, value in values.items():
        tail = tail.replace(f"@{key}@", str(value))
    assert not re.search(r"@[A-Z_]+@", tail), f"placeholder left in {name}: {tail}"
    path = directory / "solution.py"
    path.write_text(REFERENCE_SOURCE + tail, encoding="utf-8")
    return path


def drop_dir(area: Path) -> Path:
    """The real drop directory: ``area`` is under /tmp, which the sandbox replaces."""
    return (area / "drop").resolve()


def line_of(path: Path, text: str) -> int:
    """Line number (from 1) of the last line of ``path`` containing ``text`` (in the tail)."""
    return max(number for number, line in enumerate(path.read_text().splitlines(), 1)
               if text in line)


def sandbox_processes(token: str | None = None) -> list[str]:
    """Processes of this module's sandbox uids, or carrying ``token`` in their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if uid in SANDBOX_UIDS or (token and token in command):
            state = re.search(r"^State:\s+(.*)$", status, re.M).group(1)
            found.append(f"pid {entry.name} uid {uid} ({state}): {command}")
    return found


def assert_nothing_left(area: Path, token: str | None = None) -> None:
    leftovers = sorted(path.name for path in area.glob("nn-grader-*"))
    assert not leftovers, f"temporary directories left behind: {leftovers}"
    deadline = time.monotonic() + 5  # a zombie may wait a moment for its reaper (longer under load)
    while (alive := sandbox_processes(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive, "submission processes still alive:\n" + "\n".join(alive)


def assert_quiet(marker: Path, seconds: float = 0.5) -> None:
    """``marker`` (appended to by a submission process) no longer changes."""
    before = marker.stat().st_size
    time.sleep(seconds)
    assert marker.stat().st_size == before, f"{marker.name} still grows: something still runs"


def sections_of(report: GradingReport) -> dict[str, SectionResult]:
    return {section.name: section for section in report.sections}


def assert_only_broken(report: GradingReport, name: str, verdict: Verdict) -> SectionResult:
    """``name`` failed with ``verdict``; every other unit section kept its points."""
    sections = sections_of(report)
    broken = sections[name]
    assert broken.status == verdict, f"{name}: {broken.status.value}: {broken.message}"
    assert broken.points == 0
    for other in UNIT_NAMES:
        if other != name:
            assert (sections[other].status, sections[other].points) == (
                Verdict.passed, sections[other].max_points), f"{other}: {sections[other].message}"
    assert report.total == UNIT_TOTAL - broken.max_points
    return broken


def assert_all(report: GradingReport, verdict: Verdict) -> list[SectionResult]:
    """Every unit section ended with ``verdict``."""
    sections = [sections_of(report)[name] for name in UNIT_NAMES]
    assert [s.status for s in sections] == [verdict] * len(sections), [s.message for s in sections]
    assert report.total == (UNIT_TOTAL if verdict == Verdict.passed else 0.0)
    return sections


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def area(monkeypatch) -> Path:
    """A private, traversable temporary directory: the grader's ``nn-grader-*`` directories
    go there (so leftovers are this test's own), and ``area/drop`` is writable by the sandbox
    (marker files, what a submission found). The drop directory is a link to a directory
    outside /tmp, which the sandbox replaces by a fresh, empty one."""
    area = Path(tempfile.mkdtemp(prefix="nn-hostile-", dir="/tmp"))
    area.chmod(0o711)
    drop = Path(tempfile.mkdtemp(prefix="nn-hostile-drop-", dir=DROP_ROOT))
    drop.chmod(0o777)
    (area / "drop").symlink_to(drop)
    monkeypatch.setattr(tempfile, "tempdir", str(area))
    yield area
    shutil.rmtree(area, ignore_errors=True)
    shutil.rmtree(drop, ignore_errors=True)


@pytest.fixture
def grade(area, fast_unit_cases):
    """Grade a submission (unit sections, 3 s timeout by default) and check it left nothing."""
    def grade(submission: Path, cases_dir: Path = fast_unit_cases,
              token: str | None = None) -> GradingReport:
        report = grade_submission(submission, GradingOptions(skip_mnist=True, cases_dir=cases_dir,
                                                             slot=SLOT))
        assert_nothing_left(area, token)
        return report
    return grade


# ------------------------------------------------------- broken submissions
def test_syntax_error_fails_every_section_naming_the_line(grade, tmp_path):
    submission = hostile("syntax_error", tmp_path)
    report = grade(submission)
    line = line_of(submission, "def forward(self, inputs)")
    for section in assert_all(report, Verdict.import_error):
        assert section.message.startswith("solution.py could not be imported:")
        assert f'solution.py", line {line}' in section.message
        assert "SyntaxError: expected ':'" in section.message
        assert {case.verdict for case in section.cases} == {Verdict.not_run}


def test_infinite_loop_times_out_only_its_section(grade, tmp_path):
    report = grade(hostile("infinite_loop_relu", tmp_path))
    relu = assert_only_broken(report, "relu", Verdict.timeout)
    assert re.match(r"case relu_\w+ \(.*\): time limit of 3 s exceeded in case relu_\w+", relu.message)
    assert [case.verdict for case in relu.cases][:2] == [Verdict.timeout, Verdict.not_run]
    assert relu.seconds < 10


def test_busy_loop_past_the_cpu_limit_is_a_cpu_limit_verdict(grade, tmp_path):
    cases = cases_with_limits(tmp_path / "cases", "[unit]\ntimeout_seconds = 20\ncpu_seconds = 1\n")
    report = grade(hostile("infinite_loop_relu", tmp_path), cases_dir=cases)
    relu = assert_only_broken(report, "relu", Verdict.cpu_limit)
    assert "CPU time limit exceeded in case relu_" in relu.message
    assert relu.seconds < 10


@needs_sandbox
def test_memory_bomb_hits_the_memory_limit(grade, tmp_path):
    submission = hostile("memory_bomb_dense", tmp_path)
    dense = assert_only_broken(grade(submission), "dense", Verdict.memory_limit)
    assert "MemoryError" in dense.message
    assert f'line {line_of(submission, "hoard.append")}, in forward' in dense.message


def test_exception_reports_a_traceback_trimmed_to_solution(grade, tmp_path):
    submission = hostile("exception_softmax", tmp_path)
    softmax = assert_only_broken(grade(submission), "softmax", Verdict.exception)
    assert f'solution.py", line {line_of(submission, "return _normalise")}, in forward' \
        in softmax.message
    assert f'solution.py", line {line_of(submission, "raise ValueError")}, in _normalise' \
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
def test_wrong_outputs_are_wrong_answers_with_precise_messages(grade, tmp_path, name, section,
                                                               expected):
    broken = assert_only_broken(grade(hostile(name, tmp_path)), section, Verdict.wrong_answer)
    assert re.search(expected, broken.message), broken.message
    assert all(case.verdict == Verdict.wrong_answer for case in broken.cases)


@needs_sandbox
@pytest.mark.parametrize("name, verdict, expected", [
    ("sys_exit_at_import", Verdict.import_error, "SystemExit: 0"),
    ("os_exit_at_import", Verdict.exited,
     "the process exited with code 0 while importing solution.py"),
])
def test_exit_at_import_fails_every_section_clearly(grade, tmp_path, name, verdict, expected):
    for section in assert_all(grade(hostile(name, tmp_path)), verdict):
        assert expected in section.message


def test_fake_report_on_stdout_changes_no_points(grade, tmp_path):
    report = grade(hostile("fake_report_stdout", tmp_path))
    relu = assert_only_broken(report, "relu", Verdict.wrong_answer)
    assert "FAKE REPORT" in relu.output_tail  # kept as the student's output, nothing more
    assert report.total == UNIT_TOTAL - relu.max_points


# ------------------------------------------------------ hostile submissions
@needs_sandbox
def test_network_connection_never_reaches_a_local_server(grade, tmp_path, area):
    server = socket.create_server(("127.0.0.1", 0))
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
        report = grade(hostile("network_probe_relu", tmp_path, PORT=port, DROP_DIR=drop_dir(area)))
        assert accepted == [], f"the submission reached the test's server from {accepted}"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the server was reachable all along, from outside the sandbox
        deadline = time.monotonic() + 5
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(accepted) == 1
    finally:
        stop.set()
        thread.join()
        server.close()
    assert_all(report, Verdict.passed)  # without network the code computed the right answer
    error = json.loads((area / "drop" / "network.json").read_text())["error"]
    assert "unreachable" in error.lower(), error


@needs_sandbox
def test_expected_outputs_and_reference_solution_stay_hidden(grade, tmp_path, area):
    cases_dir = DEFAULT_CASES_DIR.resolve()  # the real one: hidden from the sandbox by mounts
    submission = hostile("read_secrets_relu", tmp_path, CASES_DIR=cases_dir,
                         REFERENCE_SOLUTION=REFERENCE_SOLUTION.resolve(), DROP_DIR=drop_dir(area))
    relu = assert_only_broken(grade(submission, cases_dir), "relu", Verdict.wrong_answer)
    assert all(case.verdict == Verdict.wrong_answer for case in relu.cases)
    seen = json.loads((area / "drop" / "secrets.json").read_text())
    assert seen["walked"] == []
    # covered by /dev/null, or gone with a fresh /tmp when the repository lives there
    reference = seen["opened"][str(REFERENCE_SOLUTION.resolve())]
    assert reference == 0 or str(reference).startswith("FileNotFoundError"), reference
    gt_files = {path: outcome for path, outcome in seen["opened"].items() if "_gt" in path}
    assert gt_files and all(str(outcome).startswith("FileNotFoundError")
                            for outcome in gt_files.values()), gt_files


@needs_sandbox
def test_files_left_in_scratch_directories_vanish_with_the_section(grade, tmp_path):
    token = f"hostile-litter-{uuid.uuid4().hex}"
    assert_all(grade(hostile("scratch_litter_relu", tmp_path, TOKEN=token)), Verdict.passed)
    for directory in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not os.path.exists(os.path.join(directory, token)), directory


@needs_sandbox
def test_fork_bomb_is_contained(grade, tmp_path):
    report = grade(hostile("fork_bomb_relu", tmp_path))
    relu = assert_only_broken(report, "relu", Verdict.timeout)
    assert relu.seconds < 10
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the machine still forks


@needs_sandbox
def test_daemon_in_a_new_session_dies_with_its_section(grade, tmp_path, area):
    token = f"hostile-daemon-{uuid.uuid4().hex}"
    report = grade(hostile("daemon_relu", tmp_path, TOKEN=token, DROP_DIR=drop_dir(area)),
                   token=token)
    assert_all(report, Verdict.passed)  # the section returned the right answers
    marker = area / "drop" / "daemon.marker"
    assert marker.exists(), "the daemon never ran: the scenario did not happen"
    assert_quiet(marker)


@needs_sandbox
def test_new_session_does_not_escape_the_timeout_kill(grade, tmp_path, area):
    report = grade(hostile("setsid_escape_relu", tmp_path, DROP_DIR=drop_dir(area)))
    assert_only_broken(report, "relu", Verdict.timeout)
    marker = area / "drop" / "escape.marker"
    assert marker.exists(), "the escaping loop never ran: the scenario did not happen"
    assert_quiet(marker)


@needs_sandbox
def test_killing_the_parent_and_pid_1_leaves_the_grader_standing(grade, tmp_path, area):
    report = grade(hostile("kill_parent_relu", tmp_path, DROP_DIR=drop_dir(area)))
    # Inside its PID namespace the section is PID 1, whose parent is out of sight (getppid()
    # is 0, i.e. its own process group) and which ignores signals sent from inside; it may
    # signal nothing outside (other uid). So the kills change nothing and the section passes.
    assert_all(report, Verdict.passed)
    attempts = json.loads((area / "drop" / "kill.json").read_text())
    assert attempts["pid"] == 1, attempts
    assert os.getpid() > 0 and Path(f"/proc/{os.getpid()}").exists()


@needs_sandbox
def test_malicious_pickle_output_is_never_unpickled(grade, tmp_path, area):
    drop = area / "drop"
    report = grade(hostile("malicious_pickle_relu", tmp_path, DROP_DIR=drop_dir(area)))
    relu = assert_only_broken(report, "relu", Verdict.unreadable)
    assert "Object arrays cannot be loaded when allow_pickle=False" in relu.message
    assert not (drop / "pickle.marker").exists(), "the grader unpickled the submission's output"
    # the payload was armed: unpickling the copy the submission left does create the marker
    with np.load(drop / "evidence.npz", allow_pickle=True) as evidence:
        evidence["outputs"]
    assert (drop / "pickle.marker").exists()


@needs_sandbox
def test_outputs_linked_to_the_expected_outputs_are_not_followed(grade, tmp_path, fast_unit_cases):
    submission = hostile("symlink_to_expected_relu", tmp_path, CASES_DIR=fast_unit_cases)
    relu = assert_only_broken(grade(submission), "relu", Verdict.unreadable)
    assert "symbolic link" in relu.message


@needs_sandbox
@pytest.mark.timeout(60)
def test_named_pipe_outputs_do_not_hang_the_grader(grade, tmp_path):
    relu = assert_only_broken(grade(hostile("fifo_output_relu", tmp_path)), "relu",
                              Verdict.unreadable)
    assert "not a regular file" in relu.message


@needs_sandbox
def test_output_directory_linked_elsewhere_is_not_followed(grade, tmp_path, area, fast_unit_cases):
    # Someone else's correct outputs (as another submission graded at the same time leaves them).
    borrowed = area / "borrowed-out"
    borrowed.mkdir(mode=0o755)
    section = common.SECTIONS_BY_NAME["relu"]
    records = []
    for visibility in ("public", "hidden"):
        tests_dir = fast_unit_cases / visibility
        for case in common.load_cases(tests_dir, section):
            shutil.copyfile(common.expected_dir(tests_dir, section) / f"{case.name}.npz",
                            borrowed / case_output_name(visibility, case.name))
            records.append({"name": case.name, "visibility": visibility, "status": "ran"})
    (borrowed / "status.json").write_text(json.dumps({"cases": records, "finished": True}))
    relu = assert_only_broken(grade(hostile("borrowed_out_dir_relu", tmp_path,
                                            BORROWED_OUT=borrowed)), "relu", Verdict.unreadable)
    assert "symbolic link" in relu.message
