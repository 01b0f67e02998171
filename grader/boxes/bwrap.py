"""The bubblewrap box: a new root holding only the interpreter, its libraries and the inputs.

Every path inside is there because an argument put it there (read-only): the
real interpreter, its standard library, numpy, the system's shared libraries
and the sections' data files (``/box/data/<role>``). Scratch space is a fresh
size-limited tmpfs (``/tmp``, ``/dev/shm``); the rest of the runtime and the
inputs arrive on stdin. New pid, network, ipc, uts, cgroup and mount
namespaces; no capabilities; no new privileges; the system calls of
``grader.boxes.seccomp_filter`` refused; killed with the grader.

As root, bwrap sets the box up privileged and the bootstrap then becomes the
grading's own uid with an empty capability set (bounding set included). As
any other user, bwrap makes a user namespace in which new user namespaces are
disabled.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from grader.boxes.base import (
    BOOTSTRAP_SOURCE,
    BOX_DATA_DIR,
    Box,
    BoxShape,
    BoxUnavailable,
    Isolation,
    RunningBox,
)
from grader.boxes.cgroups import Cgroup, CgroupUnavailable
from grader.boxes.interpreter import BOX_SITE, PackageNotInstalled, package_paths, python_layout
from grader.boxes.process import RLIMITS, RunningProcessBox
from grader.boxes.protocol import BOX_DIR
from grader.boxes.seccomp_filter import SeccompUnavailable, bpf_program

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or grade in "
                "containers with --box docker; --box none runs trusted code unboxed")
ROOT_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")  # for the bootstrap's drop only
SCRATCH_DIRS = ("/tmp", "/dev/shm")


def parent_dirs(paths: list[str]) -> list[str]:
    """Every directory above ``paths``, outermost first: made traversable (0755) in the box."""
    parents = {str(parent) for path in paths for parent in Path(path).parents if str(parent) != "/"}
    return sorted(parents, key=lambda path: (path.count("/"), path))


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot make boxes here, or None when it can (tried once)."""
    binary = shutil.which("bwrap")
    if binary is None:
        return f"bubblewrap is not installed: {INSTALL_HINT}"
    # --as-pid-1 as in every box: without it bwrap leaves an orphaned zombie behind
    probe = [binary, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--die-with-parent", "--as-pid-1", "--ro-bind", "/", "/", "--", "true"]
    if os.geteuid() != 0:
        probe.insert(1, "--unshare-user")
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap does not run here ({error}): {INSTALL_HINT}"
    if result.returncode != 0:
        return (f"bubblewrap cannot create namespaces here ({result.stderr.strip()[:200]}); "
                "user namespaces may be disabled or refused, as in some containers")
    return None


_CHECKING = threading.Lock()


def checked_box() -> BwrapBox:
    """The kind, once bubblewrap was tried here and the filter compiled (once per process,
    by whichever thread comes first: ``grader grade`` starts it beside its loading);
    ``BoxUnavailable`` says what is missing."""
    with _CHECKING:
        problem = bwrap_problem()
        if problem:
            raise BoxUnavailable(problem)
        try:
            return BwrapBox(bpf_program())
        except SeccompUnavailable as error:
            raise BoxUnavailable(str(error)) from None


class BwrapBox(Box):
    name = "bwrap"

    def __init__(self, seccomp: bytes) -> None:
        """A kind of box that loads the BPF program ``seccomp`` in every box (an early box:
        that of the last grading, the grading checks it)."""
        self.seccomp, self.as_root = seccomp, os.geteuid() == 0

    @classmethod
    def from_config(cls, options, config) -> BwrapBox:
        return checked_box()

    def needs_uid(self) -> bool:
        return self.as_root

    def isolation(self, uid: int | None,
                  secrets: Callable[[], list[Path]] = list) -> Isolation:
        notes = ["bubblewrap: only the interpreter, its libraries and the inputs, read-only; "
                 "new pid, network, ipc, uts, mount and cgroup namespaces; no capabilities; "
                 "seccomp filter"]
        if not self.as_root:
            notes.append("not root: the box runs as the grading user in a user namespace "
                         "(processes counted per namespace, memory by RLIMIT_AS)")
        return Isolation(box=self.name, uid=uid, notes=notes)

    def command(self, shape: BoxShape, seccomp_fd: int) -> list[str]:
        layout = python_layout()
        binds = layout.box_binds(shape.packages)
        arguments = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                     "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1",
                     "--hostname", "box", "--clearenv", "--seccomp", str(seccomp_fd)]
        if self.as_root:
            for capability in ROOT_CAPABILITIES:
                arguments += ["--cap-add", capability]
        else:
            arguments += ["--unshare-user", "--disable-userns"]
        for key, value in shape.environment().items():
            arguments += ["--setenv", key, value]
        arguments += ["--proc", "/proc", "--dev", "/dev"]
        size = str(shape.scratch_mb << 20)
        for scratch in SCRATCH_DIRS:  # first: a virtual environment under /tmp is bound on top
            arguments += ["--size", size, "--perms", "1777", "--tmpfs", scratch]
        data = shape.data_paths(BOX_DATA_DIR)
        for directory in parent_dirs([target for _, _, target in binds] + list(data.values())):
            if directory not in SCRATCH_DIRS:
                arguments += ["--perms", "0755", "--dir", directory]
        for kind, source, target in binds:
            arguments += [kind, source, target]
        for role, source in shape.data_files:
            arguments += ["--ro-bind", str(source), data[role]]
        arguments += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                      "--remount-ro", "/", "--chdir", "/"]
        return [*arguments, "--", layout.interpreter, "-I", "-S", "-c", BOOTSTRAP_SOURCE, BOX_DIR,
                BOX_SITE]

    def start(self, shape: BoxShape) -> RunningBox:
        try:
            package_paths(shape.packages)  # a missing package is told before anything is made
        except PackageNotInstalled as error:
            raise BoxUnavailable(str(error)) from None
        cgroup, resources, fields = None, RLIMITS, {"data": shape.data_paths(BOX_DATA_DIR)}
        if self.as_root:
            fields["drop_to_uid"] = shape.uid
            try:
                cgroup = Cgroup.create()
                resources = cgroup.describe()
            except CgroupUnavailable as error:
                resources = f"{RLIMITS} ({error})"
        descriptor = os.memfd_create("nn-grader-seccomp", 0)  # not inherited unless passed
        try:
            os.write(descriptor, self.seccomp)
            os.lseek(descriptor, 0, os.SEEK_SET)
            return RunningProcessBox(shape, self.command(shape, descriptor), {"PATH": os.environ.get(
                "PATH", "/usr/bin:/bin")}, cgroup, resources, fields, pass_fds=(descriptor,))
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        finally:
            os.close(descriptor)
