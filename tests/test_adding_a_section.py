"""Adding a section is data (README, "Adding a section"): a Tanh layer added to a copy of the
repository the way an instructor adds it (its class in the reference solution, its region,
one entry in grading.toml, then `grader generate` and `grader template`) is generated, shipped,
graded and audited, and no file of grader/ changes."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.tanh_section import TANH_CLASS, TANH_SECTION

REPO_DIR = Path(__file__).resolve().parent.parent
ALLOWED = ("reference/solution.py", "test_cases/", "student_template/")

CROSSENTROPY_BANNER = "# ============================ 2.2.1 Crossentropy"
CROSSENTROPY_SECTION = '[[sections]]\nname = "crossentropy"'


def working_tree_files() -> list[str]:
    """The checkout as it stands: tracked and new files (another engineer's new module too)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "-z"], cwd=REPO_DIR, capture_output=True, check=True).stdout
    return sorted(name for name in listed.decode().split("\0")
                  if name and (REPO_DIR / name).is_file() and "__pycache__" not in name)


def snapshot(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and ".git" not in path.parts}


def insert_before(path: Path, marker: str, text: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert source.count(marker) == 1, f"{marker!r} is not (once) in {path}"
    path.write_text(source.replace(marker, text + marker), encoding="utf-8")


def grader(copy: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """The copy's own grader (its grader/, reference/ and test_cases/), from the command line."""
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def graded(copy: Path, submission: Path, report: Path) -> dict[str, dict]:
    done = grader(copy, "grade", str(submission), "--skip-mnist", "--json", str(report))
    assert done.returncode == 0, done.stdout + done.stderr
    return {section["name"]: section for section in json.loads(report.read_text())["sections"]}


def test_a_tanh_layer_is_added_as_data_generated_graded_and_audited(tmp_path):
    copy = tmp_path / "repo"
    for name in working_tree_files():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_DIR / name, copy / name)
    before = snapshot(copy)
    script = "import grader, reference; print(grader.__file__, reference.__file__)"
    found = subprocess.run(  # the copy's grader and framework run, not this checkout's
        [sys.executable, "-c", script], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(path).is_relative_to(copy) for path in found), found

    # the instructor's four steps
    insert_before(copy / "reference" / "solution.py", CROSSENTROPY_BANNER, TANH_CLASS)
    insert_before(copy / "test_cases" / "grading.toml", CROSSENTROPY_SECTION, TANH_SECTION)
    done = grader(copy, "generate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "06_unittest_tanh_input/tanh_small.npz" in done.stdout
    done = grader(copy, "template")
    assert done.returncode == 0, done.stdout + done.stderr

    kit = copy / "student_template"
    assert "class Tanh(Layer):" in (kit / "solution.py").read_text(encoding="utf-8")
    assert (kit / "tests" / "06_unittest_tanh_input" / "tanh_small.npz").is_file()
    assert not list(kit.rglob("tanh_4d*")), "a hidden case reached the students' kit"
    assert "./run.py unittest tanh" in (kit / "README.md").read_text(encoding="utf-8")

    reference = graded(copy, copy / "reference" / "solution.py", tmp_path / "reference.json")
    assert list(reference)[:4] == ["relu", "softmax", "dense", "tanh"]  # grading.toml's order
    assert reference["tanh"]["verdict"] == "passed" and reference["tanh"]["points"] == 0.5
    assert len(reference["tanh"]["cases"]) == 3
    assert all(section["verdict"] == "passed" for name, section in reference.items()
               if name != "mnist")

    broken = tmp_path / "broken" / "solution.py"
    broken.parent.mkdir()
    broken.write_text((copy / "reference" / "solution.py").read_text(encoding="utf-8").replace(
        "grad_outputs * (1.0 - outputs ** 2)", "grad_outputs * (1.0 + outputs ** 2)"),
        encoding="utf-8")
    report = graded(copy, broken, tmp_path / "broken.json")
    assert report["tanh"]["verdict"] == "wrong_answer" and report["tanh"]["points"] == 0.0
    assert all(section["verdict"] == "passed" for name, section in report.items()
               if name not in ("tanh", "mnist"))

    done = grader(copy, "audit", "--section", "tanh", "--json", str(tmp_path / "audit.json"))
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert done.returncode == 0, done.stdout + done.stderr
    [tanh] = audit["sections"]
    assert tanh["section"] == "tanh" and tanh["killed"] >= 5 and tanh["passed"], tanh

    after = snapshot(copy)
    touched = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert not [name for name in touched if not name.startswith(ALLOWED)], sorted(touched)
    folders = ("test_cases/public/06_unittest_tanh_", "test_cases/hidden/06_unittest_tanh_",
               "student_template/tests/06_unittest_tanh_")
    assert {name.rsplit("/", 1)[0] + "/" if name.startswith(folders) else name
            for name in touched} == {
        "reference/solution.py", "test_cases/grading.toml", "test_cases/public/sections.json",
        *(f"{folder}{end}/" for folder in folders for end in ("input", "gt")),
        "student_template/solution.py", "student_template/README.md",
        "student_template/tests/sections.json"}
