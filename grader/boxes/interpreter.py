"""Where this Python, numpy and the box's other packages live on the host, and where a box
shows them.

A box holds the real interpreter, its standard library and the system's shared
libraries at their own paths (the interpreter finds its library from its
path), and numpy with its bundled libraries under ``/box/site-packages`` in
the box's read-only root, wherever they are installed on the host (a virtual
environment under ``/tmp`` included). The packages a course lets submissions
import (``[box] packages``: students' files import matplotlib or tqdm) join
numpy there, each with the packages it requires, in the boxes of a submission
that names them (each costs bind mounts; most submissions import none).
Packages are found, not imported: a box starts before the grader has loaded
numpy.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import importlib.metadata

BOX_SITE = "/box/site-packages"
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SYSTEM_LIBRARY_DIRS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32")


@dataclass(frozen=True)
class PythonLayout:
    interpreter: str
    system: tuple[tuple[str, str, str], ...]  # (--ro-bind or --symlink, source, target)
    numpy_dirs: tuple[str, ...]               # numpy and numpy.libs, on the host

    @property
    def host_site(self) -> str:
        """The host directory holding numpy (for a process that is not boxed)."""
        return str(Path(self.numpy_dirs[0]).parent)

    def site_paths(self, packages: tuple[str, ...] = ()) -> list[str]:
        """The host paths a box's site holds: numpy's and those of ``packages``."""
        return list(dict.fromkeys([*self.numpy_dirs, *package_paths(packages)]))

    def box_binds(self, packages: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
        """The binds of a box whose submission may import numpy and ``packages``."""
        return [*self.system, *[("--ro-bind", path, f"{BOX_SITE}/{Path(path).name}")
                                for path in self.site_paths(packages)]]


class PackageNotInstalled(Exception):
    """A package the box should hold is not installed for this Python."""


def _required(distribution: importlib.metadata.Distribution) -> list[str]:
    """The distributions ``distribution`` needs here (no extras, markers of this platform)."""
    from packaging.requirements import InvalidRequirement, Requirement  # only when mounting

    names = []
    for text in distribution.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def imported_packages(source: str, packages: tuple[str, ...]) -> tuple[str, ...]:
    """Those of ``packages`` whose modules ``source`` names (all of them must be installed).

    A word scan, not a parse: linear on any input (the host never parses a submission
    unbounded), and a word in a comment only mounts a package the box may hold anyway."""
    return packages_named(source, {name: import_names(name) for name in packages})


def packages_named(source: str, names: dict[str, frozenset[str]]) -> tuple[str, ...]:
    """Those packages of ``names`` (package -> its top-level modules) that ``source`` names."""
    words = set(WORD.findall(source))
    return tuple(package for package, modules in names.items() if words & modules)


@functools.cache
def import_names(name: str) -> frozenset[str]:
    """The top-level modules the distribution ``name`` installs (matplotlib: matplotlib,
    mpl_toolkits, pylab). Its RECORD is read as text: making a path object of each of its
    files (``Distribution.files``) costs a grading 7 ms."""
    import csv  # loaded by importlib.metadata, which _installed loads

    distribution = _installed(name)
    record = distribution.read_text("RECORD")
    files = [row[0] for row in csv.reader(record.splitlines()) if row] if record is not None \
        else [str(file) for file in distribution.files or []]  # an older install's file list
    tops = set()
    for file in files:
        parts = file.split("/")
        if len(parts) == 1 and file.endswith(".py"):
            tops.add(file.removesuffix(".py"))
        elif len(parts) > 1 and parts[0] not in ("..", "__pycache__") \
                and not parts[0].endswith((".dist-info", ".egg-info", ".libs", ".data")):
            tops.add(parts[0])
    return frozenset(tops)


def _installed(name: str) -> importlib.metadata.Distribution:
    import importlib.metadata  # not at import: an early box starts without it

    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise PackageNotInstalled(
            f"the package {name!r} that boxes should hold ([box] packages, or a package it "
            f"requires) is not installed for {sys.executable}: pip install {name}, or remove "
            "it from [box] packages in grading.toml") from None


@functools.cache
def package_paths(names: tuple[str, ...]) -> tuple[str, ...]:
    """The host paths (top-level modules, bundled libraries, metadata) of the distributions
    ``names`` and of everything they require, numpy's excepted (a box always holds it)."""
    paths, seen, todo = [], {"numpy"}, list(names)
    while todo:
        name = todo.pop(0)
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        distribution = _installed(name)
        tops = {Path(str(file)).parts[0] for file in distribution.files or []}
        for top in sorted(tops - {"..", "__pycache__"}):
            path = Path(distribution.locate_file(top)).resolve()
            if path.exists():
                paths.append(str(path))
        todo += _required(distribution)
    return tuple(paths)


@functools.cache
def python_layout() -> PythonLayout:
    interpreter = os.path.realpath(sys.executable)
    paths = {interpreter, sysconfig.get_path("stdlib")}
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        library = Path(sysconfig.get_config_var("LIBDIR")) / sysconfig.get_config_var("INSTSONAME")
        if library.exists():
            paths.add(str(library.resolve()))
    links = []
    for directory in SYSTEM_LIBRARY_DIRS:
        if os.path.islink(directory):
            links.append(("--symlink", os.readlink(directory), directory))
        elif os.path.isdir(directory):
            paths.add(directory)
    outermost = sorted(path for path in paths
                       if not any(path.startswith(other + "/") for other in paths if other != path))
    numpy_dir = Path(importlib.util.find_spec("numpy").origin).resolve().parent
    numpy_dirs = [str(numpy_dir)] + [str(path) for path in [numpy_dir.with_name("numpy.libs")]
                                     if path.is_dir()]
    return PythonLayout(interpreter, tuple(links + [("--ro-bind", path, path)
                                                    for path in outermost]), tuple(numpy_dirs))


def pinned_requirements(packages: tuple[str, ...]) -> list[str]:
    """numpy and ``packages`` at this Python's versions: what a Docker box is built with."""
    return [f"{name}=={_installed(name).version}" for name in ("numpy", *packages)]
