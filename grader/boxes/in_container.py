"""The in-container box: for a grader that is root in a container refusing namespaces.

Gradescope (and many CI runners) run the grader as root in a container whose
seccomp profile refuses new namespaces, so bubblewrap cannot work. This box keeps
what needs no namespace: the supervisor starts as root, installs the seccomp filter
(every box's, plus: no socket but a Unix one, so no network), drops to the grading's
own uid with no capability, and runs each section in its own process with its
rlimits (a cgroup too when the container lets us make one). Its files are in a
private directory owned by that uid; the sections' data files are copied in
(``data/<role>``); numpy and the box packages are linked from a folder of their own.
What it cannot do: hide the container's world-readable files. The report therefore
says whether the secrets the sections name (hidden expected outputs, test labels)
are readable by other users (``grader export gradescope``'s setup makes them
unreadable).
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sysconfig
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from grader.boxes.base import (
    BOOTSTRAP_SOURCE,
    Box,
    BoxExit,
    BoxShape,
    BoxUnavailable,
    Isolation,
    RunningBox,
)
from grader.boxes.bootstrap import SECCOMP_FD_VARIABLE
from grader.boxes.cgroups import Cgroup, CgroupUnavailable
from grader.boxes.interpreter import PackageNotInstalled, python_layout
from grader.boxes.process import RLIMITS, RunningProcessBox
from grader.boxes.seccomp_filter import SeccompUnavailable, bpf_program


def readable_by_others(path: Path) -> bool:
    """Whether a user with no relation to the file's owner could read it."""
    if not path.exists():
        return False
    for parent in path.resolve().parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def usable_by_others(path: Path) -> bool:
    """Whether another user can reach ``path`` and read (a file) or list (a directory) it."""
    path = path.resolve()
    if not path.exists() or not all(parent.stat().st_mode & stat.S_IXOTH
                                    for parent in path.parents):
        return False
    needed = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
    return path.stat().st_mode & needed == needed


def unreachable_python() -> list[str]:
    """The parts of this Python the box's uid could not use (it runs them after the drop)."""
    layout = python_layout()
    parts = [Path(layout.interpreter), Path(sysconfig.get_paths()["stdlib"]),
             Path(layout.host_site)]
    return [str(part) for part in parts if not usable_by_others(part)]


def exposed_secrets(secrets: Iterable[Path]) -> list[Path]:
    """The ``secrets`` (files a submission must not read) that another user could read."""
    return [path for path in secrets if readable_by_others(path)]


def box_site(site: Path, paths: list[str]) -> Path:
    """A folder of links to ``paths`` only (numpy and the box packages): the box imports
    what the bubblewrap box holds, not the whole of the grader's environment."""
    site.mkdir(mode=0o755)
    for path in paths:
        (site / Path(path).name).symlink_to(path)
    return site


class InContainerProcess(RunningProcessBox):
    """A started in-container box: at the end every process of its uid is killed and its
    directory removed."""

    def __init__(self, directory: Path, uid: int, **arguments) -> None:
        self.directory, self.uid = directory, uid
        super().__init__(**arguments)

    def kill(self) -> None:
        super().kill()
        kill_uid(self.uid)

    def finish(self, timeout: float) -> BoxExit:
        try:
            return super().finish(timeout)
        finally:
            kill_uid(self.uid)  # what it detached (setsid, double fork) has its uid
            shutil.rmtree(self.directory, ignore_errors=True)


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid``: kill(-1) from a process of that uid."""
    subprocess.run(["/bin/sh", "-c", "kill -9 -1"], user=uid, group=uid, extra_groups=[],
                   env={}, cwd="/", timeout=30, capture_output=True, check=False)


class InContainerBox(Box):
    name = "in-container"

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise BoxUnavailable("the in-container box needs root (to give the submission a "
                                 "uid of its own)")
        try:
            self.seccomp = bpf_program(sockets_local_only=True)
        except SeccompUnavailable as error:
            raise BoxUnavailable(str(error)) from None
        unreachable = unreachable_python()
        if unreachable:
            raise BoxUnavailable("the in-container box runs the submission as a uid of its own, "
                                 "which cannot use this Python (" + ", ".join(unreachable) +
                                 " not readable by other users); install the grader in a "
                                 "virtual environment of a system Python, as setup.sh does")

    def needs_uid(self) -> bool:
        return True

    def isolation(self, uid: int | None,
                  secrets: Callable[[], list[Path]] = list) -> Isolation:
        notes = ["in-container box (bubblewrap cannot make namespaces here): its own uid with "
                 "no capability, rlimits, the seccomp filter with no socket but a Unix one "
                 "(no network), a private directory; no namespaces: the container's "
                 "world-readable files are visible"]
        exposed = exposed_secrets(secrets())
        if exposed:
            notes.append(f"{len(exposed)} secret files (hidden expected outputs, test "
                         f"labels) are readable by other users, e.g. {exposed[0]}")
        return Isolation(box=self.name, uid=uid, network_cut=True,
                         secrets_hidden=not exposed, notes=notes)

    def start(self, shape: BoxShape) -> RunningBox:
        if shape.uid is None:
            raise BoxUnavailable("the in-container box needs a uid of its own for the grading")
        layout = python_layout()
        directory = Path(tempfile.mkdtemp(prefix="nn-grader-box-"))
        cgroup = None
        try:
            data_dir, data = directory / "data", shape.data_paths(str(directory / "data"))
            if data:
                data_dir.mkdir(mode=0o755)
                for role, source in shape.data_files:
                    shutil.copyfile(source, data[role])
                    os.chmod(data[role], 0o644)
            site = box_site(directory / "site-packages", layout.site_paths(shape.packages))
            os.chown(directory, shape.uid, shape.uid)
            os.chmod(directory, 0o711)
            try:
                cgroup = Cgroup.create()
                resources = cgroup.describe()
            except CgroupUnavailable as error:
                resources = f"{RLIMITS} ({error})"
            fields = {"data": data, "drop_to_uid": shape.uid,
                      "kill_all_between_runs": True}
            environment = {**shape.environment(), "HOME": str(directory / "work"),
                           "TMPDIR": str(directory)}
            descriptor = os.memfd_create("nn-grader-seccomp", 0)
            try:
                os.write(descriptor, self.seccomp)
                os.lseek(descriptor, 0, os.SEEK_SET)
                environment[SECCOMP_FD_VARIABLE] = str(descriptor)
                command = [layout.interpreter, "-I", "-S", "-c", BOOTSTRAP_SOURCE,
                           str(directory / "box"), str(site)]
                return InContainerProcess(
                    directory, shape.uid, shape=shape, command=command, environment=environment,
                    cgroup=cgroup, resources=resources, request_fields=fields,
                    pass_fds=(descriptor,))
            finally:
                os.close(descriptor)
        except BaseException as error:
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(directory, ignore_errors=True)
            if isinstance(error, PackageNotInstalled):
                raise BoxUnavailable(str(error)) from None
            raise
