"""``grader export gradescope``: a complete Gradescope autograder in one zip.

The zip holds ``setup.sh`` and ``run_autograder`` at its root (Gradescope's layout),
the files ``grader/shipping.py`` lists for it (the grader's source, the framework, the
student kit's ``solution.py``: the given code, the test cases), the MNIST arrays and
labels the grading needs, pinned requirements, and with ``--wheels`` every wheel they
need for the target Python, so that ``setup.sh`` installs offline. Never the reference
solution nor its generator. ``setup.sh`` then makes
``/autograder/source`` readable by root only: the box (in-container on Gradescope,
where namespaces are refused) cannot read the hidden expected outputs or the labels.
"""
from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader import shipping
from grader.config import ConfigError, load_config
from grader.mnist import MnistDataError, prepare_mnist_inputs
from grader.paths import DEFAULT_CASES_DIR

RUNTIME_PACKAGES = ("numpy", "pydantic", "rich", "typer", "pyseccomp", "nbformat", "tomlkit",
                    "pooch", "tqdm", "pyyaml")
BUILD_PACKAGES = ("setuptools>=68", "wheel")
MNIST_FOLDER = "mnist-cache"
WHEELS_FOLDER = "wheels"
GLIBC_MINOR = 31  # manylinux tags down from glibc 2.31 (Ubuntu 20.04) are accepted
SCRIPTS = Path(__file__).resolve().parent / "files"


class ExportError(Exception):
    """The autograder cannot be built (no MNIST, wheels not found for the target)."""


@dataclass(frozen=True)
class Exported:
    path: Path
    bytes: int
    files: int
    wheels: int


def requirements() -> str:
    """The runtime packages and the box packages (``[box] packages`` of the bundled cases),
    pinned to the versions graded with here (numpy above all: the cases were generated
    with it)."""
    try:
        box_packages = load_config(DEFAULT_CASES_DIR).box.packages
    except ConfigError as error:
        raise ExportError(str(error)) from None
    lines = []
    for package in dict.fromkeys([*RUNTIME_PACKAGES, *box_packages]):
        try:
            lines.append(f"{package}=={importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(package)
    return "\n".join(lines + list(BUILD_PACKAGES)) + "\n"


def download_wheels(target: Path, python_version: str, requirements_file: Path) -> list[Path]:
    """Binary wheels of the requirements (and their dependencies) for CPython
    ``python_version`` on x86-64 Linux."""
    platforms = [argument for minor in range(GLIBC_MINOR + 10, 4, -1)
                 for argument in ("--platform", f"manylinux_2_{minor}_x86_64")]
    platforms += ["--platform", "manylinux2014_x86_64", "--platform", "linux_x86_64"]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--dest", str(target), "--only-binary=:all:", "--implementation", "cp",
               "--python-version", python_version, "-r", str(requirements_file), *platforms]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise ExportError(f"pip could not download the wheels for Python {python_version}:\n"
                          f"{done.stderr.strip()[-1500:]}")
    return sorted(target.glob("*.whl"))


def _add(bundle: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(info, data)


def build(out: Path, mnist_dir: Path | None = None, wheels: bool = False,
          python_version: str | None = None, fetch: bool = True) -> Exported:
    """Write the autograder zip to ``out``."""
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    try:
        mnist = prepare_mnist_inputs(mnist_dir, 1, None, fetch)
    except MnistDataError as error:
        raise ExportError(f"no MNIST to ship: {error}") from None
    pinned = requirements()
    with tempfile.TemporaryDirectory(prefix="nn-grader-export-") as temporary:
        wheel_files: list[Path] = []
        if wheels:
            listed = Path(temporary) / "requirements.txt"
            listed.write_text(pinned, encoding="utf-8")
            wheel_files = download_wheels(Path(temporary) / "wheels", python_version, listed)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w") as bundle:
            for name in ("setup.sh", "run_autograder"):
                _add(bundle, name, (SCRIPTS / name).read_bytes(), executable=True)
            _add(bundle, "requirements.txt", pinned.encode())
            for name, path in shipping.files("gradescope").items():
                _add(bundle, name, path.read_bytes())
            for path in sorted(mnist.folder.iterdir()):
                if path.is_file():
                    _add(bundle, f"{MNIST_FOLDER}/{mnist.name}/{path.name}", path.read_bytes())
            for path in wheel_files:
                _add(bundle, f"{WHEELS_FOLDER}/{path.name}", path.read_bytes())
            if wheel_files:
                _add(bundle, f"{WHEELS_FOLDER}/python-version", f"{python_version}\n".encode())
            files = len(bundle.infolist())
        shutil.move(partial, out)
    return Exported(out, out.stat().st_size, files, len(wheel_files))
