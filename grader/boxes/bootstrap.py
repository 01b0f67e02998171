"""The first code a box runs: ``python -I -S -c <this file's text> /tmp/box [PATH...]``.

It imports numpy (from the PATHs, the only places of the host's Python the
box holds) while the host is still preparing the bundle, then reads the
bundle (see ``grader.boxes.protocol``) from stdin, writes its code files into the
scratch file system (the case inputs stay in memory, out of reach of a full
disk), becomes the unprivileged box user when the box was started as root
(dropping every capability, the bounding set included), and hands over to the
supervisor. Until the bundle arrives only this file and numpy have run. Standard
library only, and small: it is all the box needs before the host's files are in
place.
"""
import gc
import json
import os
import sys

MAX_BUNDLE_BYTES = 64 << 20
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_FD_VARIABLE = "NN_GRADER_SECCOMP_FD"
LINUX_CAPABILITY_VERSION_3 = 0x20080522


def read_exact(size):
    chunks, left = [], size
    while left:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the bundle ended early")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_line(limit=24):
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte or len(line) > limit:
            raise EOFError("no bundle size line")
        line += byte
    return line


def decode(body):
    """The files of a bundle body: relative path -> bytes (the host is trusted; paths are
    checked anyway)."""
    files = {}
    newline = body.index(b"\n")
    magic, count = body[:newline].split(b" ")
    if magic != b"NNBOX1":
        raise ValueError("not a box bundle")
    position = newline + 1
    for _ in range(int(count)):
        newline = body.index(b"\n", position)
        name_size, data_size = (int(part) for part in body[position:newline].split(b" "))
        start = newline + 1
        name = body[start:start + name_size].decode()
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"bundle path {name!r} leaves the box directory")
        files[name] = body[start + name_size:start + name_size + data_size]
        position = start + name_size + data_size
    return files


def read_bundle():
    """The next bundle on stdin (its size line, then its body), decoded."""
    size = int(read_line())
    if not 0 < size <= MAX_BUNDLE_BYTES:
        raise ValueError(f"bundle of {size} bytes")
    return decode(read_exact(size))


def write(files, root):
    for name, data in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "wb") as stream:
            stream.write(data)


def drop_privileges(uid):
    """From root with CAP_SETUID/SETGID/SETPCAP only to ``uid`` with no capability at all."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/sys/kernel/cap_last_cap") as stream:
        last = int(stream.read())
    for capability in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot drop the capability bounding set")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:  # the inheritable set too
        raise OSError(ctypes.get_errno(), "cannot clear the capability sets")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    with open("/proc/self/status") as stream:
        status = dict(line.split(":", 1) for line in stream.read().splitlines() if ":" in line)
    for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        if int(status[key], 16):
            raise OSError(f"{key} is {status[key].strip()} after dropping privileges")


def install_seccomp(descriptor):
    """A box without bubblewrap installs the filter itself (a BPF program in a memfd)."""
    import ctypes

    program = os.read(descriptor, 1 << 20)
    os.close(descriptor)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.prctl(
            PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(SockFprog(len(program) // 8,
                                                                        program)), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")


def main():
    # what numpy's import makes lives as long as the box: no collections while it loads (the
    # supervisor turns the collector on again before the submission's code runs)
    gc.disable()
    root = sys.argv[1]
    if os.environ.get(SECCOMP_FD_VARIABLE):
        install_seccomp(int(os.environ.pop(SECCOMP_FD_VARIABLE)))
    sys.path[:0] = sys.argv[2:]
    import numpy  # noqa: F401 - loads while the host prepares the bundle; BLAS threads are set
    try:
        os.makedirs(root, mode=0o755, exist_ok=True)
        files = read_bundle()
        inputs = {name: data for name, data in files.items() if name.startswith("inputs/")}
        write({name: data for name, data in files.items() if name not in inputs}, root)
        request = json.loads(files["request.json"])
        if request.get("drop_to_uid") is not None:
            drop_privileges(request["drop_to_uid"])
    except Exception as error:  # noqa: BLE001 - reported on stderr, exit code says bad bundle
        print(f"box bootstrap: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(71)
    sys.path.insert(0, os.path.join(root, "runtime"))
    from grader.boxes import supervisor

    supervisor.main(root, inputs, read_bundle)


if __name__ == "__main__":  # run as `python -c`; never imported
    main()
