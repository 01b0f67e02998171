"""Importing a ``solution.py`` and its ``interface.py`` in the test process, leaving no trace."""
from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator

MODULE_NAMES = ("solution", "interface")


@contextlib.contextmanager
def isolated_imports() -> Iterator[None]:
    """Hide and afterwards restore ``solution``/``interface`` modules and ``sys.path``, so
    that solutions imported one after another never mix."""
    saved_modules = {name: sys.modules.pop(name) for name in MODULE_NAMES if name in sys.modules}
    saved_path = list(sys.path)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in MODULE_NAMES:
            sys.modules.pop(name, None)
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
