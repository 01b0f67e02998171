"""The trusted prelude's choices of what stays visible in the sandbox."""
from __future__ import annotations

import sys

from grader.sandbox_child import kept_inside, python_paths


def test_covering_tmp_keeps_a_virtual_environment_and_the_work_directory():
    paths = {"/tmp/venv", "/tmp/venv/lib/python3.11/site-packages", "/tmp/grading/relu/work",
             "/usr/lib/python3.11", "/tmpfoo/other"}
    assert kept_inside("/tmp", paths) == ["/tmp/grading/relu/work", "/tmp/venv"]
    assert kept_inside("/var/tmp", paths) == []


def test_python_paths_are_the_interpreters_existing_directories():
    paths = python_paths()
    assert sys.prefix in paths
    assert all(path for path in paths)
    assert any(path.endswith("site-packages") for path in paths)
