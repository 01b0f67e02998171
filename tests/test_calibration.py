"""The calibration: a steady measure of this machine, a factor against the reference."""
from __future__ import annotations

import itertools
import json

import pytest

from grader.mnist import calibration
from grader.options import GradingOptions
from grader.pipeline import grade_submission
from tests.grading_fixtures import REFERENCE_SOLUTION, cases_with_limits, synthetic_mnist_cache


@pytest.fixture
def stored(monkeypatch, tmp_path):
    path = tmp_path / "calibration.json"
    monkeypatch.setenv("GRADER_CALIBRATION_FILE", str(path))
    return path


def test_the_workload_runs_in_a_child_and_is_counted_in_cpu_seconds(monkeypatch):
    monkeypatch.setattr(calibration, "STEPS", 40)
    assert 0 < calibration._workload_seconds() < 5


def test_a_steady_machine_is_measured_by_the_median(monkeypatch, stored):
    """(How steady the real workload is depends on the machine's load: not a unit test.)"""
    times = iter([9.0, 1.02, 1.0, 0.98])  # the first run only warms the caches
    monkeypatch.setattr(calibration, "_workload_seconds", lambda: next(times))
    measured = calibration.measure(repeats=3)
    assert measured.seconds == 1.0 and measured.spread == 0.04
    assert measured.machine == calibration.machine_name()


def test_an_unsteady_machine_is_not_recorded(monkeypatch):
    times = itertools.cycle([1.0, 1.0, 1.5])
    monkeypatch.setattr(calibration, "_workload_seconds", lambda: next(times))
    with pytest.raises(calibration.CalibrationError, match="too unsteady"):
        calibration.measure(repeats=3)


def test_the_factor_is_this_machine_over_the_reference(monkeypatch, stored):
    here = calibration.Measurement(3.0, 0.01, calibration.machine_name(),
                                   __import__("numpy").__version__, "now")
    calibration.save(here, stored)
    monkeypatch.setattr(calibration, "measure", lambda: pytest.fail("measured again"))
    factor, note = calibration.factor(1.5, "the course's server")
    assert factor == 2.0 and "the course's server" in note and "factor 2.00" in note
    assert calibration.factor(None, "") == (1.0, calibration.factor(None, "")[1])


def test_another_machine_or_numpy_is_measured_afresh(monkeypatch, stored):
    stored.write_text(json.dumps({"seconds": 9.0, "spread": 0, "machine": "other",
                                  "numpy": "1.0", "measured": "then"}))
    assert calibration.load(stored) is None


def test_recording_the_reference_keeps_the_comments(tmp_path):
    config = tmp_path / "grading.toml"
    config.write_text("# limits of the course\n[unit]\ntimeout_seconds = 30  # per run\n")
    calibration.record_reference(calibration.Measurement(1.25, 0.02, "box", "2.0", "now"), config)
    text = config.read_text()
    assert "# limits of the course" in text and "# per run" in text
    assert "reference_seconds = 1.25" in text


def test_the_mnist_budget_grows_with_the_factor(tmp_path, stored):
    calibration.save(calibration.Measurement(2.0, 0.01, calibration.machine_name(),
                                             __import__("numpy").__version__, "now"), stored)
    cases = cases_with_limits(tmp_path / "cases", "[mnist]\ntimeout_seconds = 20\n"
                                                  "[calibration]\nreference_seconds = 1.0\n")
    cache = synthetic_mnist_cache(tmp_path / "cache", n_train=600, n_test=100)
    options = GradingOptions(cases_dir=cases, mnist_cache_dir=cache, mnist_fetch=False,
                             blas_threads=1)
    mnist = grade_submission(REFERENCE_SOLUTION, options).sections[-1].mnist
    assert mnist.calibration_factor == 2.0
    assert (mnist.cpu_budget_seconds, mnist.wall_guard_seconds) == (40.0, 120.0)
