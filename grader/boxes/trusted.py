"""No box at all, for trusted code only (``--box none``): the supervisor as a plain child.

The same supervisor and protocol, so verdicts are computed the same way, but
nothing is isolated: the submission runs as the grading user, sees the whole
machine and the network, and a process it detaches may outlive the grading.
Every report says so.
"""
from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from grader.boxes.base import BOOTSTRAP_SOURCE, Box, BoxExit, BoxShape, Isolation, RunningBox
from grader.boxes.interpreter import python_layout
from grader.boxes.process import RLIMITS, RunningProcessBox


class TrustedProcess(RunningProcessBox):
    """The supervisor in a temporary directory of its own, removed at the end."""

    def __init__(self, shape: BoxShape, command: list[str], environment: dict[str, str],
                 directory: Path, request_fields: dict):
        self.directory = directory
        super().__init__(shape, command, environment, None, RLIMITS, request_fields)

    def finish(self, timeout: float) -> BoxExit:
        try:
            return super().finish(timeout)
        finally:  # rm handles trees of any depth; what it cannot remove stays in the temp dir
            subprocess.run(["rm", "-rf", "--one-file-system", str(self.directory)],
                           capture_output=True, timeout=600)


class TrustedBox(Box):
    name = "none"

    def isolation(self, uid: int | None,
                  secrets: Callable[[], list[Path]] = list) -> Isolation:
        return Isolation(box=self.name, network_cut=False, secrets_hidden=False, notes=[
            "NO SANDBOX (--box none, for trusted code only): the submission ran as the grading "
            "user with the network, every file of this user and no namespaces"])

    def start(self, shape: BoxShape) -> RunningBox:
        layout = python_layout()
        directory = Path(tempfile.mkdtemp(prefix="nn-grader-trusted-"))
        fields = {"kill_all_between_runs": False,  # kill(-1) would hit the user's own processes
                  "data": shape.data_paths(None)}
        environment = {**shape.environment(), "HOME": str(directory), "TMPDIR": str(directory)}
        command = [layout.interpreter, "-I", "-S", "-c", BOOTSTRAP_SOURCE, str(directory / "box"),
                   layout.host_site]
        return TrustedProcess(shape, command, environment, directory, fields)
