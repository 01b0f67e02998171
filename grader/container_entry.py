"""Inside the grading container: ``python -m grader.container_entry /spec/spec.json``.

Started by ``grader.docker_backend`` as the container's PID 1 (no ``--init``),
as the image's non-root user, with no network, a read-only root filesystem and
a tmpfs ``/tmp``. It runs each requested section through the process backend's
own path (``prepare_section`` + ``run_child``, isolation ``container``), one
section at a time: ``run_child`` ends every section with ``kill(-1)`` and reaps the
orphans, which as PID 1 leaves nothing of the submission running, so the next
section's workspace
is laid out while no student process exists. After each section its output
files (regular files only, size-capped, symlinks never followed) and a
``run.json`` (the ``ChildRun``) go to the result directory; the host judges
them against the expected outputs it never mounts here.

Hardening of this process against the submission, which runs as the same uid:
SIGINT/SIGTERM are reset to their defaults (the kernel then ignores them, and
SIGKILL, when sent to a namespace's init from inside), and the process is made
non-dumpable, so ``/proc/1/{fd,environ,mem}`` are closed to the submission.
The result directory's name is a secret passed in the environment (removed at
once) under a mount point the container user may traverse but neither list
nor write: the submission cannot write to the host's disk at all.
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from pydantic import BaseModel, Field

from grader.config import Limits, MnistLimits
from grader.untrusted_files import UnreadableOutput, open_regular
from reference.mnist_data import sha256_file

IMAGE_MNIST_DIR = Path("/opt/nn-grader/mnist")
MNIST_INFO_FILE = "info.json"
RESULTS_TOKEN_ENV = "GRADER_RESULTS_TOKEN"
RUN_FILE = "run.json"
ENTRY_FILE = "entry.json"
OUTPUT_SUBDIR = "out"
EXPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_EXPORT_FILE_BYTES = 64 << 20
MAX_EXPORT_FILES = 200
EXIT_OK, EXIT_CRASH, EXIT_MNIST_MISMATCH = 0, 1, 3
PR_SET_DUMPABLE = 4


class ImageMnist(BaseModel):
    """``/opt/nn-grader/mnist/info.json``, written by docker/build_images.sh."""

    name: str
    test_images_sha256: str
    n_train: int | None = None
    n_test: int | None = None


class ContainerSpec(BaseModel):
    """What the host asks the container to do (``/spec/spec.json``, read-only)."""

    sections: list[str]
    unit: Limits
    mnist: MnistLimits
    blas_threads: int = Field(1, ge=1)
    submission: str = "/spec/solution.py"
    cases_dir: str = "/cases"
    results_root: str = "/out"
    scratch_dirs: list[str] = ["/tmp", "/dev/shm"]
    mnist_dir: str = str(IMAGE_MNIST_DIR)
    expected_mnist: ImageMnist | None = None  # the host's dataset name and test-images SHA-256


class EntryResult(BaseModel):
    """``entry.json``: how the entry itself fared (not the submission)."""

    ok: bool = False
    error_kind: str | None = None  # "mnist_mismatch" or "crash"
    error: str | None = None
    sections_done: list[str] = []
    image_mnist: ImageMnist | None = None
    pid: int = 0
    seconds: float = 0.0


def become_init() -> None:
    """Make PID 1 immune to the submission: default SIGINT/SIGTERM, not dumpable."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(number, signal.SIG_DFL)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    os.environ["GRADER_IN_CONTAINER"] = "1"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # this process does no arithmetic


def read_image_mnist(mnist_dir: Path) -> ImageMnist:
    return ImageMnist.model_validate_json((mnist_dir / MNIST_INFO_FILE).read_bytes())


def _remove_tree(path: Path) -> None:
    """Remove what the submission left, whatever modes it set (it runs as our uid)."""
    def retry(function, failed_path, _):
        try:
            os.chmod(os.path.dirname(failed_path), 0o700)
            if os.path.isdir(failed_path) and not os.path.islink(failed_path):
                os.chmod(failed_path, 0o700)
            function(failed_path)
        except OSError:
            pass

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=retry)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def clear_scratch(scratch_dirs: list[str]) -> None:
    """Empty the writable scratch file systems between sections (nothing is running)."""
    for directory in scratch_dirs:
        try:
            entries = list(Path(directory).iterdir())
        except OSError:
            continue
        for entry in entries:
            _remove_tree(entry)


def _copy_regular(source_dir_fd: int, name: str, target: Path) -> bool:
    """Copy one regular file (never through a symlink, never a FIFO or device), size-capped."""
    try:
        with open_regular(source_dir_fd, [name], MAX_EXPORT_FILE_BYTES) as source, \
                open(target, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    except (OSError, UnreadableOutput):
        return False
    return True


def export_section(out_dir: Path, run_json: str, target: Path) -> None:
    """``target/run.json`` and ``target/out/<files>``: what the host reads for this section."""
    (target / OUTPUT_SUBDIR).mkdir(parents=True, exist_ok=True)
    try:
        dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        dir_fd = None
    if dir_fd is not None:
        try:
            names = sorted(os.listdir(dir_fd))[:MAX_EXPORT_FILES * 4]
            copied = 0
            for name in names:
                if copied >= MAX_EXPORT_FILES:
                    break
                if EXPORT_NAME.match(name) and (name.endswith(".npz") or name == "status.json"):
                    copied += _copy_regular(dir_fd, name, target / OUTPUT_SUBDIR / name)
        finally:
            os.close(dir_fd)
    temporary = target / f".{RUN_FILE}.tmp"
    temporary.write_text(run_json, encoding="utf-8")
    os.replace(temporary, target / RUN_FILE)


def open_permissions(root: Path) -> None:
    """Let the host's user (maybe not root) delete what this uid wrote."""
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories:
            os.chmod(os.path.join(directory, name), 0o777)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o666)


def results_dir(spec: ContainerSpec) -> Path:
    token = os.environ.pop(RESULTS_TOKEN_ENV, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", token):
        raise RuntimeError(f"{RESULTS_TOKEN_ENV} is missing or malformed")
    path = Path(spec.results_root) / token
    if not path.is_dir():
        raise RuntimeError(f"the result directory {spec.results_root}/<token> is not mounted")
    return path


def check_mnist(spec: ContainerSpec) -> tuple[ImageMnist | None, str | None]:
    """The image's MNIST must be the host's: same dataset, same test images (same labels)."""
    if "mnist" not in spec.sections or spec.expected_mnist is None:
        return None, None
    try:
        image = read_image_mnist(Path(spec.mnist_dir))
    except (OSError, ValueError) as error:
        return None, f"the image has no usable MNIST data ({error})"
    actual = sha256_file(Path(spec.mnist_dir) / "test_images.npy")
    if actual != image.test_images_sha256:
        return image, (f"the image's test_images.npy has SHA-256 {actual}, its info.json says "
                       f"{image.test_images_sha256}")
    expected = spec.expected_mnist
    if (image.name, image.test_images_sha256) != (expected.name, expected.test_images_sha256):
        return image, (f"the image holds MNIST '{image.name}' with test images SHA-256 "
                       f"{image.test_images_sha256}, but the grading machine's cache holds "
                       f"'{expected.name}' with {expected.test_images_sha256}")
    return image, None


def run_sections(spec: ContainerSpec, results: Path, result: EntryResult) -> None:
    from grader.grading import prepare_section, run_section
    from grader.sandbox import CONTAINER_ISOLATION
    from reference import common

    source = Path(spec.submission).read_bytes()
    for name in spec.sections:
        section = common.SECTIONS_BY_NAME[name]
        base = Path(tempfile.mkdtemp(prefix="nn-grader-", dir=spec.scratch_dirs[0]))
        if section.kind == "mnist":
            limits, threads = spec.mnist, spec.blas_threads
            data = Path(spec.mnist_dir)
            mnist = {"train": str(data / "train.npz"), "test_images": str(data / "test_images.npy")}
        else:
            limits, threads, mnist = spec.unit, 1, None
        workspace = prepare_section(base, section, source, Path(spec.cases_dir), limits,
                                    CONTAINER_ISOLATION,
                                    mnist=mnist)
        run = run_section(workspace, limits, threads, CONTAINER_ISOLATION)
        export_section(workspace.out_dir, run.model_dump_json(), results / name)
        result.sections_done.append(name)
        clear_scratch(spec.scratch_dirs)


def main(argv: list[str] | None = None) -> int:
    become_init()
    started = time.perf_counter()
    argv = sys.argv[1:] if argv is None else argv
    result = EntryResult(pid=os.getpid())
    results: Path | None = None
    code = EXIT_CRASH
    try:
        if len(argv) != 1:
            raise RuntimeError("usage: python -m grader.container_entry /spec/spec.json")
        spec = ContainerSpec.model_validate_json(Path(argv[0]).read_bytes())
        results = results_dir(spec)
        result.image_mnist, mismatch = check_mnist(spec)
        if mismatch:
            result.error_kind, result.error = "mnist_mismatch", mismatch
            code = EXIT_MNIST_MISMATCH
        else:
            run_sections(spec, results, result)
            result.ok, code = True, EXIT_OK
    except BaseException:  # noqa: BLE001 - reported to the host, which raises GradingError
        result.error_kind, result.error = "crash", traceback.format_exc(limit=20)[-8000:]
        print(result.error, file=sys.stderr, flush=True)
    result.seconds = round(time.perf_counter() - started, 3)
    if results is not None:
        try:
            (results / ENTRY_FILE).write_text(result.model_dump_json(), encoding="utf-8")
            open_permissions(results)
        except OSError as error:
            print(f"container_entry: cannot write {ENTRY_FILE}: {error}", file=sys.stderr)
            code = EXIT_CRASH
    return code


if __name__ == "__main__":
    sys.exit(main())
