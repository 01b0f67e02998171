"""Run a command as another (non-root) user who can reach this interpreter and repository.

``unshare --mount --propagation private -- python -m tests.support.run_as USER [--expose PATH]
-- COMMAND...`` as root. In that private mount namespace every directory that
others may not traverse on the way to this interpreter, its virtual
environment, the repository and the ``--expose``d paths (``/root`` for
instance) is covered by an empty tmpfs into which only those paths are bound
back. Then the process becomes USER (with USER's groups) and runs COMMAND.
Nothing outside the namespace changes.
"""
from __future__ import annotations

import ctypes
import os
import pwd
import sys
from pathlib import Path

MS_BIND, MS_REC = 0x1000, 0x4000
REPO_DIR = Path(__file__).resolve().parents[2]


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    if libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def closed_ancestor(path: str) -> tuple[str, str] | None:
    """The first directory on the way to ``path`` that others cannot traverse, and its child."""
    current = "/"
    for part in Path(path).parts[1:]:
        if not os.stat(current).st_mode & 0o001:
            return current, os.path.join(current, part)
        current = os.path.join(current, part)
    return None


def expose(paths: list[str]) -> None:
    covered: dict[str, set[str]] = {}
    for path in paths:
        found = closed_ancestor(path)
        if found:
            covered.setdefault(found[0], set()).add(found[1])
    for directory, children in covered.items():
        descriptors = {child: os.open(child, os.O_PATH) for child in children}
        _mount("tmpfs", directory, "tmpfs", 0, "size=64k,mode=0755")
        for child, descriptor in descriptors.items():
            if os.path.isdir(f"/proc/self/fd/{descriptor}"):
                os.makedirs(child, exist_ok=True)
            else:
                open(child, "a").close()
            _mount(f"/proc/self/fd/{descriptor}", child, None, MS_BIND | MS_REC, None)
            os.close(descriptor)


def main(argv: list[str]) -> None:
    user, argv = argv[0], argv[1:]
    extra = []
    while argv[0] == "--expose":
        extra.append(os.path.realpath(argv[1]))
        argv = argv[2:]
    command = argv[1:] if argv[0] == "--" else argv
    paths = [sys.prefix, sys.base_prefix, os.path.realpath(sys.executable), str(REPO_DIR), *extra]
    expose([os.path.realpath(path) for path in paths])
    account = pwd.getpwnam(user)
    os.initgroups(user, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
