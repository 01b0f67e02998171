"""What a submission may import: numpy, the framework and ``[box] packages``, nothing else.

Students' files plot their training curves and show progress bars; a box without
matplotlib would give such a file 0 for every section. Anything else installed on
the host (the grader's own dependencies) stays out of the box, and an import of it
is told once, with what the box does hold.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from grader.boxes.in_container import box_site
from grader.boxes.interpreter import (
    imported_packages,
    package_paths,
    pinned_requirements,
    python_layout,
)
from grader.options import GradingOptions
from grader.paths import DEFAULT_CASES_DIR
from grader.pipeline import grade_submission
from grader.reports.model import Verdict
from tests.grading_fixtures import (
    PLOTS_AND_PROGRESS,
    REFERENCE_SOLUTION,
    cases_with_limits,
    with_header,
)


def grader_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=300)


def test_a_submission_that_plots_and_shows_progress_keeps_every_point(tmp_path):
    report = grade_submission(with_header(tmp_path, PLOTS_AND_PROGRESS),
                              GradingOptions(skip_mnist=True))
    assert report.total == 4.0, [(s.name, s.verdict, s.message) for s in report.sections]


def test_a_host_package_the_box_does_not_hold_is_told_once_with_a_hint(tmp_path):
    # pydantic is installed on the host (the grader uses it) but is not a box package
    submission = with_header(tmp_path, "import pydantic\n")
    result = grader_cli("grade", str(submission), "--skip-mnist")
    assert result.returncode == 0, result.stdout + result.stderr  # graded: 0 points
    assert result.stdout.count("could not be imported") == 1
    assert "No module named 'pydantic'" in result.stdout
    assert ("the grading box holds only numpy, the course framework (interface), tqdm, "
            "matplotlib (imported by name); 'pydantic' is not there") in result.stdout
    report = grade_submission(submission, GradingOptions(skip_mnist=True))
    unit = [section for section in report.sections if section.verdict != Verdict.skipped]
    assert {section.verdict for section in unit} == {Verdict.import_error}
    assert all("hint: the grading box holds only" in section.message for section in unit)


def test_a_box_holds_the_box_packages_the_submission_imports_by_name():
    allowed = ("tqdm", "matplotlib")
    assert imported_packages(REFERENCE_SOLUTION.read_text(), allowed) == ()
    assert imported_packages(PLOTS_AND_PROGRESS, allowed) == allowed
    assert imported_packages("def f():\n    from tqdm.auto import tqdm\n", allowed) == ("tqdm",)
    assert imported_packages("from mpl_toolkits import mplot3d\nimport os", allowed) == \
        ("matplotlib",)
    assert imported_packages("import pylab", allowed) == ("matplotlib",)
    assert imported_packages("import pydantic, os\nfrom . import x", allowed) == ()
    assert imported_packages("def broken(:", allowed) == ()


def test_a_box_package_comes_with_what_it_requires_and_numpy_stays_apart():
    names = {Path(path).name for path in package_paths(("matplotlib",))}
    assert {"matplotlib", "mpl_toolkits", "PIL", "dateutil", "pyparsing", "cycler",
            "kiwisolver", "contourpy", "fontTools", "packaging"} <= names
    assert "numpy" not in names and "pydantic" not in names
    requirements = pinned_requirements(("tqdm",))
    assert [item.split("==")[0] for item in requirements] == ["numpy", "tqdm"]


def test_a_box_package_that_is_not_installed_is_a_clear_error(tmp_path):
    toml = (DEFAULT_CASES_DIR / "grading.toml").read_text(encoding="utf-8").replace(
        'packages = ["tqdm", "matplotlib"]', 'packages = ["tqdm", "no-such-package-here"]')
    assert "no-such-package-here" in toml
    cases = cases_with_limits(tmp_path / "cases", toml)
    result = grader_cli("grade", str(REFERENCE_SOLUTION), "--skip-mnist", "--cases", str(cases))
    assert result.returncode == 2
    assert "'no-such-package-here'" in result.stdout and "pip install" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    requirements = grader_cli("box-requirements", "--cases", str(cases))
    assert requirements.returncode == 2 and "no-such-package-here" in requirements.stderr


def test_the_in_container_box_links_only_numpy_and_the_box_packages(tmp_path):
    site = box_site(tmp_path / "site-packages", python_layout().site_paths(("tqdm",)))
    probe = ("import sys; sys.path[:0] = [sys.argv[1]]; import numpy, tqdm\n"
             "try:\n    import pydantic\nexcept ModuleNotFoundError:\n    print('no pydantic')")
    result = subprocess.run([python_layout().interpreter, "-I", "-S", "-c", probe, str(site)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no pydantic"
