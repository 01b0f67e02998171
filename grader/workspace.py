"""A private working directory per section: trusted framework, the submission, inputs only.

Only the student's ``solution.py`` comes from the submission; ``interface.py``,
``common.py`` and ``mnist_data.py`` are the trusted copies from ``reference/``.
Expected outputs are never copied in.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from reference import common
from reference.common import Section

REFERENCE_DIR = Path(common.__file__).resolve().parent
TRUSTED_FILES = ("interface.py", "common.py", "mnist_data.py")


@dataclass(frozen=True)
class SectionWorkspace:
    """Paths of one section's run; ``workdir`` is all the child may write to."""

    workdir: Path
    out_dir: Path
    spec_path: Path

    def tests_dir(self, visibility: str) -> Path:
        return self.workdir / "tests" / visibility


def _chown_tree(path: Path, uid: int) -> None:
    for directory, _, files in os.walk(path):
        os.chown(directory, uid, uid)
        for name in files:
            os.chown(os.path.join(directory, name), uid, uid)


def create_section_workspace(base: Path, section: Section, solution_source: bytes,
                             cases_dir: Path, visibilities: list[str],
                             extra_files: dict[str, Path] | None = None,
                             owner_uid: int | None = None) -> SectionWorkspace:
    """Lay out ``base/<section>/work`` with the trusted files, the solution and the inputs."""
    root = base / section.name
    workdir = root / "work"
    out_dir = workdir / "out"
    out_dir.mkdir(parents=True)
    for name in TRUSTED_FILES:
        shutil.copyfile(REFERENCE_DIR / name, workdir / name)
    (workdir / "solution.py").write_bytes(solution_source)
    if section.kind == "unit":
        for visibility in visibilities:
            source = common.input_dir(cases_dir / visibility, section)
            shutil.copytree(source, common.input_dir(workdir / "tests" / visibility, section))
    for name, path in (extra_files or {}).items():
        shutil.copyfile(path, workdir / name)
    # the child may pass through the grader-owned directories but list nothing there
    for directory in (base, root):
        directory.chmod(stat.S_IRWXU | stat.S_IXGRP | stat.S_IXOTH)
    workdir.chmod(stat.S_IRWXU)  # sections graded at once cannot read each other's files
    if owner_uid is not None:
        _chown_tree(workdir, owner_uid)
    return SectionWorkspace(workdir=workdir, out_dir=out_dir,
                            spec_path=root / "spec.json")


def write_spec(workspace: SectionWorkspace, spec: dict) -> None:
    workspace.spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
