"""Entry point of one sandboxed section run; executed as ``python -I sandbox_child.py SPEC``.

The trusted prelude (hide paths, drop privileges, set resource limits) runs
before the student's ``solution.py`` is imported. Afterwards only case inputs
are at hand: outputs go to ``.npz`` files and a JSON status file that the
parent reads without pickle and judges. Standard library and numpy only, so
that start-up stays fast.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

MS_REC, MS_PRIVATE, MS_BIND, MS_RDONLY = 0x4000, 0x40000, 0x1000, 0x1
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    if libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {target}: {os.strerror(error)}")


def cover(directory: str, keep: list[str], options: str) -> None:
    """Mount an empty tmpfs over ``directory``, with the directories ``keep`` bound back in.

    The kept directories are reached through file descriptors opened before the
    cover, since their paths are hidden by it afterwards.
    """
    descriptors = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path in keep]
    _mount("tmpfs", directory, "tmpfs", 0, options)
    for path, descriptor in zip(keep, descriptors):
        os.makedirs(path, mode=0o711, exist_ok=True)
        _mount(f"/proc/self/fd/{descriptor}", path, None, MS_BIND | MS_REC, None)
        os.close(descriptor)


def hide_secrets(paths: list[str]) -> None:
    """Cover secret paths (expected outputs, test labels, the reference solution)."""
    for path in paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=4k,mode=0555")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND, None)


def _blocked_ancestor(path: str) -> tuple[str, str] | None:
    """The first ancestor others may not traverse, and its child on the way to ``path``."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    current = "/"
    for part in parts:
        if not os.stat(current).st_mode & 0o001:
            return current, os.path.join(current, part)
        current = os.path.join(current, part)
    return None


def expose_python() -> None:
    """Let an unprivileged uid reach the interpreter when it lives under e.g. ``/root``.

    The closed directory is covered by an empty tmpfs (hiding the rest of it,
    the grader's caches among them) and only the interpreter's subtree is bound
    back in.
    """
    covered: dict[str, list[str]] = {}
    for path in sorted(python_paths()):
        blocked = _blocked_ancestor(path)
        if blocked and blocked[1] not in covered.setdefault(blocked[0], []):
            covered[blocked[0]].append(blocked[1])
    for closed, children in covered.items():
        cover(closed, children, "size=64k,mode=0711")


def python_paths() -> set[str]:
    """Where this interpreter finds its modules (a virtual environment may live in /tmp)."""
    return {path for path in {sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path[1:]}
            if os.path.isdir(path)}


def kept_inside(directory: str, paths: set[str]) -> list[str]:
    """The outermost of ``paths`` below ``directory``: what covering it must keep."""
    inside = sorted(path for path in paths if path.startswith(directory.rstrip("/") + "/"))
    return [path for path in inside
            if not any(path.startswith(other + "/") for other in inside if other != path)]


def isolate_filesystem(spec: dict) -> None:
    """In this private mount namespace: fresh scratch directories, secrets hidden.

    Whatever the submission writes to /tmp, /var/tmp or /dev/shm vanishes with
    the namespace; only its work directory (and the interpreter's own
    directories, for a virtual environment there) stay visible. Secrets are
    hidden afterwards, also inside what was kept.
    """
    _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    scratch = f"size={spec['limits']['max_file_size_mb']}m,mode=1777"
    keep = python_paths() | {spec["workdir"]}
    for directory in SCRATCH_DIRS:
        if os.path.isdir(directory):
            cover(directory, kept_inside(directory, keep), scratch)
    if spec["sandbox_uid"] is not None:
        expose_python()
    hide_secrets(spec["hide_paths"])


CPU_LIMIT_EXIT_CODE = 128 + signal.SIGXCPU
MNIST_PREDICTIONS = "hidden-mnist.npz"  # the MNIST section's output file


def case_output_name(visibility: str, case_name: str) -> str:
    """The output file of one case in the child's output directory (the judge reads it)."""
    return f"{visibility}-{case_name}.npz"


def _exit_on_cpu_limit(signum, frame) -> None:
    # As PID 1 of its namespace the child ignores SIGXCPU's default action; say it by exit code.
    os._exit(CPU_LIMIT_EXIT_CODE)


def apply_limits(limits: dict) -> None:
    """RLIMITs; the CPU hard limit is a second above the soft one, which ends the run cleanly."""
    signal.signal(signal.SIGXCPU, _exit_on_cpu_limit)
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    mebibyte = 1024 * 1024
    for name, value in (("RLIMIT_AS", limits["memory_mb"] * mebibyte),
                        ("RLIMIT_NPROC", limits["max_processes"]),
                        ("RLIMIT_FSIZE", limits["max_file_size_mb"] * mebibyte),
                        ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


class StatusFile:
    """The JSON status the parent reads; rewritten atomically after every case."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict = {"import_error": None, "cases": []}

    def save(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.data), encoding="utf-8")
        os.replace(temporary, self.path)


def exception_fields(common, error: Exception) -> dict:
    """A case record for an exception raised by the student's code (a verdict, not a crash)."""
    # memory_error: the judge's memory_limit verdict (RLIMIT_AS makes allocations fail)
    return {"status": "exception", "error": common.student_traceback(error),
            "error_type": type(error).__name__, "memory_error": isinstance(error, MemoryError)}


def run_unit_section(spec: dict, status: StatusFile, common, solution, interface) -> None:
    import numpy as np

    section = common.SECTIONS_BY_NAME[spec["section"]]
    out_dir = Path(spec["out_dir"])
    for visibility, tests_dir in spec["tests_dirs"].items():
        for case in common.load_cases(Path(tests_dir), section):
            record = {"name": case.name, "visibility": visibility, "status": "running"}
            status.data["cases"].append(record)
            status.save()
            started = time.perf_counter()
            try:
                outputs = common.execute_case(solution, interface, case,
                                              common.load_inputs(Path(tests_dir), section, case))
            except Exception as error:  # the student's code raised: a verdict, not a crash
                record.update(exception_fields(common, error))
            else:
                arrays = {k: v for k, v in outputs.items()
                          if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}
                record["not_arrays"] = {k: common.describe_value(v) for k, v in outputs.items()
                                        if k not in arrays}
                common.save_npz(out_dir / case_output_name(visibility, case.name), arrays)
                record["status"] = "ran"
            record["seconds"] = round(time.perf_counter() - started, 4)
            status.save()


def run_mnist_section(spec: dict, status: StatusFile, common, solution, interface) -> None:
    import mnist_data
    import numpy as np

    data = spec["mnist"]
    with np.load(data["train"], allow_pickle=False) as train:
        x_train, y_train = train["x"], train["y"]
    x_test = np.load(data["test_images"], allow_pickle=False)
    sets = mnist_data.preprocess_course(x_train, y_train, x_test)
    record = {"name": "mnist", "visibility": "hidden", "status": "running"}
    status.data["cases"].append(record)
    status.save()
    started = time.perf_counter()
    try:
        model = solution.train_mnist_model(sets.x_train, sets.y_train, sets.x_valid, sets.y_valid)
        record["train_seconds"] = round(time.perf_counter() - started, 3)
        if not isinstance(model, interface.Model):
            raise TypeError(f"train_mnist_model must return a Model, got "
                            f"{type(model).__name__}")
        predicted = common.predict_classes(model, sets.x_test)
    except Exception as error:  # the student's code raised: a verdict, not a crash
        record.update(exception_fields(common, error))
    else:
        common.save_npz(Path(spec["out_dir"]) / MNIST_PREDICTIONS, {"predicted": predicted})
        record.update(status="ran", not_arrays={})
    record["seconds"] = round(time.perf_counter() - started, 3)
    status.save()


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    workdir = spec["workdir"]
    status = StatusFile(Path(spec["out_dir"]) / "status.json")
    if spec["private_mounts"]:
        isolate_filesystem(spec)
    if spec["sandbox_uid"] is not None:
        drop_privileges(spec["sandbox_uid"])
    os.chdir(workdir)
    sys.path.insert(0, workdir)
    import numpy  # noqa: F401  (before the limits: OpenBLAS reserves memory at import)

    import common

    apply_limits(spec["limits"])
    status.save()
    try:
        solution, interface = common.import_solution(Path(workdir))
    except BaseException as error:  # syntax errors, exceptions, sys.exit at import time
        status.data["import_error"] = common.student_traceback(error)
        status.save()
        return
    runner = run_mnist_section if spec["section"] == "mnist" else run_unit_section
    runner(spec, status, common, solution, interface)
    status.data["finished"] = True
    status.save()


if __name__ == "__main__":
    main()
