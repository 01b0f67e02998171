"""Which student sent which file, read from the folder (or zip) an instructor downloaded.

Five layouts are recognised, in this order:

- a Gradescope "Export Submissions" download: ``submission_metadata.yml`` maps each
  ``submission_NNN/`` folder to its submitters (the student is their e-mail, else their
  SID, else their name; a group submission's are joined with ``+``);
- a Moodle assignment download: ``Full Name_12345_assignsubmission_file_/`` folders
  (the student is the full name; the participant number is added when two names agree);
- GitHub Classroom clones: ``<assignment>-<login>/`` folders (the student is the login);
- one folder per student (the student is the folder's name);
- one file per student, ``<student>.py`` or ``.ipynb`` (the student is the file's stem).

In a student's folder the file graded is ``solution.py``, else the only notebook, else the
only ``.py`` file, else the only zip; a folder with none of these (or several) still gives
its student a row: the grading reports what was found. Symbolic links are never followed.
A zip of any of these is extracted first into a temporary folder, with bounds on its size.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

GRADESCOPE_METADATA = "submission_metadata.yml"
MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<number>\d+)_assignsubmission_[a-z]+_?$")
CODE_SUFFIXES = (".py", ".ipynb")
IGNORED = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", ".github", ".venv"}
MAX_DEPTH = 4                   # how deep a student's folder is searched for the file
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_BYTES = 4 << 30         # extracted size of a class zip
MAX_LISTED = 12                 # entries named in an error


class LayoutError(Exception):
    """The submissions cannot be read as any known layout; the message lists what was found."""


@dataclass(frozen=True)
class Entry:
    """One student's submission: ``path`` is None when their folder holds nothing gradable
    (``problem`` then says what it holds)."""

    student: str
    path: Path | None
    problem: str = ""


@dataclass(frozen=True)
class Roster:
    layout: str
    entries: list[Entry]


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in IGNORED and not path.is_symlink()


def _children(folder: Path) -> tuple[list[Path], list[Path]]:
    """The folder's sub-folders and files, hidden, ignored and linked entries left out."""
    entries = sorted((entry for entry in folder.iterdir() if _visible(entry)),
                     key=lambda entry: entry.name)
    return ([entry for entry in entries if entry.is_dir()],
            [entry for entry in entries if stat.S_ISREG(entry.lstat().st_mode)])


def _files_under(folder: Path) -> list[Path]:
    found = []
    for root, folders, files in os.walk(folder):
        depth = len(Path(root).relative_to(folder).parts)
        folders[:] = sorted(name for name in folders
                            if depth < MAX_DEPTH and _visible(Path(root) / name))
        found += [Path(root) / name for name in sorted(files) if _visible(Path(root) / name)]
    return found


def _listing(paths: list[Path], base: Path) -> str:
    names = [str(path.relative_to(base)) for path in paths[:MAX_LISTED]]
    more = f" and {len(paths) - MAX_LISTED} more" if len(paths) > MAX_LISTED else ""
    return ", ".join(names) + more if names else "nothing"


def student_file(folder: Path) -> Entry:
    """The file to grade in one student's folder (the student is filled in by the caller)."""
    files = _files_under(folder)
    by_rule = ([path for path in files if path.name == "solution.py"],
               [path for path in files if path.suffix == ".ipynb"],
               [path for path in files if path.suffix == ".py"],
               [path for path in files if path.suffix == ".zip"])
    for candidates in by_rule:
        if len(candidates) == 1:
            return Entry("", candidates[0])
        if len(candidates) > 1:
            return Entry("", None, f"several candidates to grade: {_listing(candidates, folder)}"
                                   "; expected one solution.py")
    return Entry("", None, f"no solution.py, notebook or zip in the folder (it holds "
                           f"{_listing(files, folder)})")


def _in_folders(named: list[tuple[str, Path]]) -> list[Entry]:
    entries = []
    for student, folder in named:
        found = student_file(folder)
        entries.append(Entry(student, found.path, found.problem))
    return entries


def _plain_keys(record: object) -> dict:
    """Gradescope writes Ruby symbols (``:name:``), which YAML reads as ``':name'``."""
    return {str(key).strip(":"): value for key, value in record.items()} \
        if isinstance(record, dict) else {}


def _submitter_name(submitter: object) -> str:
    fields = _plain_keys(submitter)
    for key in ("email", "sid", "name"):
        if fields.get(key) not in (None, ""):
            return str(fields[key])
    return ""


def _gradescope(root: Path) -> Roster:
    try:
        metadata = yaml.safe_load((root / GRADESCOPE_METADATA).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise LayoutError(f"{root / GRADESCOPE_METADATA} cannot be read: {error}") from None
    if not isinstance(metadata, dict):
        raise LayoutError(f"{root / GRADESCOPE_METADATA} is not a mapping of submission folders")
    named = []
    for folder_name, record in metadata.items():
        submitters = _plain_keys(record).get("submitters") or []
        names = [_submitter_name(s) for s in submitters] if isinstance(submitters, list) else []
        folder = root / str(folder_name)
        if not any(names) or not folder.is_dir() or not _visible(folder):
            raise LayoutError(f"{root / GRADESCOPE_METADATA}: entry {folder_name!r} names no "
                              "submitter or no folder of the download")
        named.append(("+".join(name for name in names if name), folder))
    return Roster("gradescope", _in_folders(named))


def _moodle(folders: list[Path]) -> Roster:
    matches = [(MOODLE_FOLDER.match(folder.name), folder) for folder in folders]
    names = [match["name"] for match, _ in matches]
    named = [(match["name"] if names.count(match["name"]) == 1
              else f"{match['name']} ({match['number']})", folder) for match, folder in matches]
    return Roster("moodle", _in_folders(named))


def _classroom_prefix(folders: list[Path]) -> str:
    """The ``<assignment>-`` every folder's name starts with, or ''."""
    if len(folders) < 2:
        return ""
    prefix = os.path.commonprefix([folder.name for folder in folders])
    prefix = prefix[:prefix.rfind("-") + 1]
    return prefix if prefix and all(len(folder.name) > len(prefix) for folder in folders) else ""


def read_layout(root: Path) -> Roster:
    """The students and files of the unpacked download in ``root``."""
    if not root.is_dir():
        raise LayoutError(f"{root} is not a folder or a zip")
    folders, files = _children(root)
    if (root / GRADESCOPE_METADATA).is_file():
        return _gradescope(root)
    code = [path for path in files if path.suffix in CODE_SUFFIXES]
    if folders and not code:
        if all(MOODLE_FOLDER.match(folder.name) for folder in folders):
            return _moodle(folders)
        prefix = _classroom_prefix(folders)
        if prefix:
            return Roster("github-classroom",
                          _in_folders([(f.name[len(prefix):], f) for f in folders]))
        return Roster("folders", _in_folders([(folder.name, folder) for folder in folders]))
    if code and not folders:
        stems = [path.stem for path in code]
        twice = sorted({stem for stem in stems if stems.count(stem) > 1})
        if twice:
            raise LayoutError(f"{root}: several files for the same student: {', '.join(twice)} "
                              "(one <student>.py or <student>.ipynb each)")
        return Roster("files", [Entry(path.stem, path) for path in code])
    raise LayoutError(
        f"{root}: not a known layout of submissions. Found {len(folders)} folders "
        f"({_listing(folders, root)}) and {len(code)} code files ({_listing(code, root)}). "
        "Expected one of: <student>.py files; one folder per student holding solution.py; "
        f"a Gradescope export ({GRADESCOPE_METADATA}); a Moodle download "
        "(Name_123_assignsubmission_file_/ folders); GitHub Classroom clones "
        "(<assignment>-<login>/ folders)")


def _extract(archive: Path, target: Path) -> None:
    """Unpack ``archive``: members stay inside ``target``, links are skipped, size is bounded."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise LayoutError(f"{archive} holds {len(members)} entries, at most "
                                  f"{MAX_ZIP_MEMBERS}")
            written = 0
            for member in members:
                name = PurePosixPath(member.filename.replace("\\", "/"))
                if name.is_absolute() or ".." in name.parts or not name.parts:
                    raise LayoutError(f"{archive}: entry {member.filename!r} points outside "
                                      "the archive")
                if stat.S_ISLNK(member.external_attr >> 16):
                    continue
                destination = target.joinpath(*name.parts)
                if member.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_ZIP_BYTES:
                            raise LayoutError(f"{archive} unpacks to more than "
                                              f"{MAX_ZIP_BYTES >> 30} GiB")
                        sink.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as error:
        raise LayoutError(f"{archive} is not a readable zip: {error}") from None


@contextmanager
def open_submissions(path: Path) -> Iterator[Roster]:
    """The roster of ``path`` (a folder, or a zip of one), valid inside the block: a zip is
    unpacked into a temporary folder removed afterwards."""
    path = Path(path)
    if path.is_dir():
        yield read_layout(path)
        return
    if not path.is_file():
        raise LayoutError(f"{path} does not exist")
    if not zipfile.is_zipfile(path):
        raise LayoutError(f"{path} is neither a folder nor a zip of submissions")
    target = Path(tempfile.mkdtemp(prefix="nn-grader-class-"))
    try:
        _extract(path, target)
        folders, files = _children(target)
        root = folders[0] if len(folders) == 1 and not files else target  # a zipped folder
        yield read_layout(root)
    finally:
        shutil.rmtree(target, ignore_errors=True)
