"""Each download layout is read from a realistic fixture with the right student names."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from grader.batch.layouts import LayoutError, open_submissions

LAYOUTS = Path(__file__).resolve().parent / "layouts"
MOODLE = LAYOUTS / "moodle" / "NN-2026-HW2-Numpy networks-1234567"


def roster(path: Path) -> tuple[str, dict[str, str | None]]:
    """The layout, and each student's graded file (relative name) or None."""
    with open_submissions(path) as found:
        return found.layout, {entry.student: entry.path.name if entry.path else None
                              for entry in found.entries}


def zipped(folder: Path, target: Path, top: str | None = None) -> Path:
    with zipfile.ZipFile(target, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file():
                bundle.write(path, f"{top}/{name}" if top else name)
    return target


def test_one_file_per_student():
    assert roster(LAYOUTS / "files") == ("files", {"ivanov_ivan": "ivanov_ivan.py",
                                                   "petrova_maria": "petrova_maria.ipynb"})


def test_one_folder_per_student(tmp_path):
    folder = shutil.copytree(LAYOUTS / "folders", tmp_path / "class")
    (folder / "bob" / "homework2" / "__pycache__").mkdir()
    (folder / "bob" / "homework2" / "__pycache__" / "solution.cpython-311.pyc").write_bytes(b"x")
    layout, students = roster(folder)
    assert layout == "folders"
    assert students == {"alice": "solution.py", "bob": "solution.py", "carol": None,
                        "dmitry": "hw2.ipynb"}
    with open_submissions(folder) as found:
        carol = next(entry for entry in found.entries if entry.student == "carol")
    assert "no solution.py" in carol.problem and "readme.txt" in carol.problem


def test_gradescope_export_maps_folders_to_submitters():
    layout, students = roster(LAYOUTS / "gradescope" / "assignment_2484562_export")
    assert layout == "gradescope"
    assert students == {"ivanov@example.edu": "solution.py",
                        "petrova@example.edu+orlov@example.edu": "solution.ipynb",
                        "20264": "solution.py"}


def test_moodle_download_names_students_by_full_name(tmp_path):
    layout, students = roster(MOODLE)
    assert layout == "moodle"
    assert students == {"Anna Ivanova (101)": "solution.py", "Anna Ivanova (117)": "solution.py",
                        "Boris Petrov": "solution (1).py", "Vera Smirnova": "hw2.zip",
                        "Grigory Sokolov": None}


def test_moodle_download_as_its_zip(tmp_path):
    archive = zipped(MOODLE, tmp_path / "moodle.zip", top=MOODLE.name)
    assert roster(archive) == roster(MOODLE)


def test_github_classroom_clones_name_students_by_login(tmp_path):
    folder = shutil.copytree(LAYOUTS / "classroom", tmp_path / "classroom")
    for clone in folder.iterdir():
        (clone / ".git").mkdir()
        (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert roster(folder) == ("github-classroom", {"hubot": "solution.py",
                                                    "mona-lisa": "solution.py",
                                                    "octocat": "solution.py"})


def test_an_unknown_layout_is_named_with_what_was_found(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "alice").mkdir()
    (tmp_path / "class" / "bob.py").write_text("x = 1\n")
    with pytest.raises(LayoutError, match=r"not a known layout.*1 folders \(alice\).*bob\.py"):
        roster(tmp_path / "class")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="0 folders"):
        roster(tmp_path / "empty")


def test_a_zip_whose_entries_leave_it_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../outside.py", "x = 1\n")
    with pytest.raises(LayoutError, match="points outside"):
        roster(archive)
    assert not (tmp_path / "outside.py").exists()


def test_symbolic_links_are_not_followed(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text("x = 1\n")
    (folder / "mallory.py").symlink_to("/etc/passwd")
    assert roster(folder) == ("files", {"alice": "alice.py"})


def test_what_is_not_a_download_is_named(tmp_path):
    with pytest.raises(LayoutError, match="does not exist"):
        roster(tmp_path / "missing")
    (tmp_path / "grades.txt").write_text("x")
    with pytest.raises(LayoutError, match="neither a folder nor a zip"):
        roster(tmp_path / "grades.txt")
