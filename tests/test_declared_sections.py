"""The sections declared in grading.toml: validated with errors that name the entry, and the
one source of what is graded, generated and shipped."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.config import ConfigError, load_config
from grader.options import GradingOptions
from grader.pipeline import failed_report, grade_submission
from grader.reports.model import ErrorCause
from reference import common, generate
from tests.grading_fixtures import REFERENCE_SOLUTION
from tests.support.tanh_section import TANH_SECTION as TANH

REPO_DIR = Path(__file__).resolve().parent.parent
CASES_DIR = REPO_DIR / "test_cases"
ESSAY = """
[[sections]]
name = "essay"
title = "3 Essay"
points = 1
kind = "mnist"
builder = "loss"
"""


def cases_with(tmp_path: Path, added: str) -> Path:
    """A folder whose grading.toml is the bundled one with ``added`` at its end."""
    folder = tmp_path / "cases"
    folder.mkdir(exist_ok=True)
    bundled = (CASES_DIR / "grading.toml").read_text(encoding="utf-8")
    (folder / "grading.toml").write_text(bundled + added, encoding="utf-8")
    return folder


def config_error(tmp_path: Path, added: str) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(cases_with(tmp_path, added))
    return str(error.value)


def test_the_bundled_sections_are_the_assignments_and_what_the_cases_describe():
    declared = load_config(CASES_DIR).sections
    assert [section.name for section in declared] == [
        "relu", "softmax", "dense", "crossentropy", "sgd", "momentum", "mnist"]
    assert sum(section.points for section in declared) == 5.0
    assert [section.record() for section in declared] == \
        [section.to_record() for section in common.load_sections(CASES_DIR / "public")] == \
        [section.to_record() for section in common.SECTIONS]
    assert not (CASES_DIR / "hidden" / common.SECTIONS_FILE).exists()


def test_the_public_description_holds_no_case():
    text = (CASES_DIR / "public" / common.SECTIONS_FILE).read_text(encoding="utf-8")
    assert "far_apart" not in text and "builder" not in text and "hidden" not in text


@pytest.mark.parametrize(("added", "message"), [
    (TANH.replace('builder = "layer"', 'builder = "activation"'),
     "sections.tanh.builder: Input should be 'layer', 'loss' or 'optimizer'"),
    (TANH.replace('name = "tanh"', 'name = "relu"'), "duplicate section name: relu"),
    (TANH.replace('name = "tanh_small"', 'name = "relu_2d"'), "duplicate case name: relu_2d"),
    (TANH.replace('folder = "06_unittest_tanh"', 'folder = "00_unittest_relu"'),
     "duplicate section folder: 00_unittest_relu"),
    (TANH.replace("points = 0.5", "points = 0"),
     "sections.tanh.points: Input should be greater than 0"),
    (TANH.replace('folder = "06_unittest_tanh"\n', ""), "unit section 'tanh' needs folder"),
    (TANH.replace('class = "Tanh"\n', ""), "unit section 'tanh' needs class"),
    (TANH.replace('kind = "unit"', 'kind = "essay"'),
     "sections.tanh.kind: Input should be 'unit' or 'mnist'"),
    (TANH + "scales = 2.0\n",
     "sections.tanh.hidden.tanh_saturated.layer.scales: Extra inputs"),
    (TANH.split("[[sections.public]]")[0], "unit section 'tanh' has no cases"),
    (ESSAY, "mnist section 'essay' takes no cases, folder or builder"),
], ids=["unknown_builder", "duplicate_name", "duplicate_case", "duplicate_folder",
        "points_not_positive", "folder_missing", "class_missing", "unknown_kind",
        "unknown_key", "no_cases", "mnist_with_builder"])
def test_a_bad_section_entry_is_named_with_its_problem(tmp_path, added, message):
    assert message in config_error(tmp_path, added)


@pytest.mark.parametrize(("change", "message"), [
    (('shape = [4, 5]', 'inputs = "gaussian"\nshape = [4, 5]'),
     "section 'tanh', case 'tanh_small': unknown input maker 'gaussian' (the makers: "),
    (('shape = [4, 5]', 'inputs = "far_apart_logits"\nshape = [4, 5]'),
     "input maker 'far_apart_logits' takes no shape or scale, given shape"),
    (('shape = [4, 5]', 'shape = [4, 5]\nparameters = { weights = "xavier" }'),
     "parameter 'weights': unknown maker 'xavier'"),
], ids=["unknown_maker", "maker_without_shape", "unknown_parameter_maker"])
def test_generate_names_a_maker_it_does_not_have(tmp_path, change, message):
    folder = cases_with(tmp_path, TANH.replace(*change))
    with pytest.raises(generate.GenerationError, match="^section 'tanh'") as error:
        generate.write_cases(tmp_path / "out", generate.DEFAULT_SEED,
                             generate.declared_sections(folder))
    assert message in str(error.value)


def test_grader_generate_reports_a_bad_entry_without_a_traceback(tmp_path):
    folder = cases_with(tmp_path, TANH.replace("points = 0.5", "points = -1"))
    done = subprocess.run([sys.executable, "-m", "reference.generate", "--out", str(folder)],
                          cwd=REPO_DIR, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "sections.tanh.points: Input should be greater than 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_cases_with_limits_only_are_generated_from_the_bundled_sections(tmp_path):
    """A folder of cases whose grading.toml sets limits alone (as tests write them)."""
    folder = tmp_path / "cases"
    shutil.copytree(CASES_DIR, folder)
    (folder / "grading.toml").write_text("[unit]\ntimeout_seconds = 5\n", encoding="utf-8")
    assert [section.name for section in generate.declared_sections(folder)] == \
        [section.name for section in common.SECTIONS]
    assert generate.generate(folder) == []


def test_the_sections_graded_are_those_of_the_cases_given_not_the_default_ones(tmp_path):
    """``grader grade --cases DIR`` with a grading.toml without momentum: no momentum in the
    report, nor in the report of a grading that failed, nor in what it is out of."""
    folder = tmp_path / "cases"
    folder.mkdir()
    bundled = (CASES_DIR / "grading.toml").read_text(encoding="utf-8")
    start = bundled.index('[[sections]]\nname = "momentum"')
    end = bundled.index("[[sections]]", start + 1)
    (folder / "grading.toml").write_text(bundled[:start] + bundled[end:], encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "reference.generate", "--out", str(folder)],
                          cwd=REPO_DIR, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    kept = ["relu", "softmax", "dense", "crossentropy", "sgd", "mnist"]
    report = grade_submission(REFERENCE_SOLUTION,
                              GradingOptions(cases_dir=folder, skip_mnist=True))
    assert [section.name for section in report.sections] == kept
    assert (report.total, report.max_total, report.graded_max_total()) == (3.5, 4.5, 3.5)
    failed = failed_report("x.py", "no box", ErrorCause.grader, folder)
    assert [section.name for section in failed.sections] == kept and failed.max_total == 4.5
