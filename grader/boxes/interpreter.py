"""Where this Python and numpy live on the host, and where a box shows them.

A box holds the real interpreter, its standard library and the system's shared
libraries at their own paths (the interpreter finds its library from its
path), and numpy with its bundled libraries under ``/box/site-packages`` in
the box's read-only root, wherever they are installed on the host (a virtual
environment under ``/tmp`` included). numpy is found, not imported: a box
starts before the grader has loaded numpy.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

BOX_SITE = "/box/site-packages"
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

    def box_binds(self) -> list[tuple[str, str, str]]:
        numpy = [("--ro-bind", path, f"{BOX_SITE}/{Path(path).name}") for path in self.numpy_dirs]
        return [*self.system, *numpy]


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
