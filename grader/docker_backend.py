"""The Docker backend: each submission in ONE fresh container, judged here on the host.

The container (image ``nn-grader:latest`` by default, built by
``docker/build_images.sh``) runs ``python -m grader.container_entry`` as PID 1,
which runs the sections one after the other through the process backend's code
(same workspaces, same child, same limits; isolation ``container``). It gets:

- read-only: ``/spec`` (``spec.json`` and the student's ``solution.py``) and
  ``/cases`` (a copy of the ``*_input`` directories only: never an expected
  output; the MNIST test labels are not in the image either);
- writable: ``/out/<token>``, a fresh host directory whose name is a secret
  given to the entry in its environment (``/out`` itself is 0711);
- ``network_mode="none"``, a read-only root file system, a tmpfs ``/tmp``,
  memory, pids and CPU limits from ``[docker]`` in ``grading.toml``,
  ``cap_drop=["ALL"]``, ``no-new-privileges``, the image's non-root user.

The host reads back ``entry.json``, each section's ``run.json`` and its outputs
without pickle, under size caps (regular files only, symlinks never followed),
and judges them with the same functions as the process backend. The container
is removed in every case: normal end, error, Ctrl-C or an overrun of the overall
timeout (sum of the section timeouts plus a margin), after which it is killed.
"""
from __future__ import annotations

import math
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, ValidationError

from grader.config import DockerSettings, GradingConfig
from grader.container_entry import (ENTRY_FILE, EXIT_MNIST_MISMATCH, OUTPUT_SUBDIR,
                                    RESULTS_TOKEN_ENV, RUN_FILE, ContainerSpec, EntryResult,
                                    ImageMnist)
from grader.grading import (VISIBILITIES, GradingError, GradingOptions,
                            judge_mnist_section, judge_unit_section, skipped_section)
from grader.judge import MAX_OUTPUT_BYTES, MAX_STATUS_BYTES
from grader.mnist_section import MnistInputs, prepare_mnist_inputs
from grader.report_model import SandboxInfo, SectionResult
from grader.sandbox import ChildRun
from grader.sandbox_child import MNIST_PREDICTIONS, case_output_name
from grader.untrusted_files import UnreadableOutput, read_regular
from reference import common
from reference.mnist_data import sha256_file
from reference.common import Case

CONTAINER_LABEL = "nn-grader"  # every container carries label nn-grader=1
ENTRY_COMMAND = ["python", "-m", "grader.container_entry", "/spec/spec.json"]
MAX_ENTRY_BYTES = 1 << 20
REBUILD_HINT = "rebuild the grading image: bash docker/build_images.sh"


class ContainerOutcome(BaseModel):
    """How the container ended, as the engine tells it."""

    exit_code: int | None
    oom_killed: bool = False
    timed_out: bool = False
    seconds: float
    logs: str = ""
    phases: dict[str, float] = {}  # seconds of create, start, run (to the exit), remove


# ------------------------------------------------------------------ the engine
def docker_client(timeout: float = 60):
    """A client of the local engine, or a GradingError saying how to get one."""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:  # pragma: no cover - docker is a dependency
        raise GradingError("the Docker backend needs the 'docker' Python package") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as error:
        raise GradingError(f"cannot reach a Docker engine ({error}); start one (e.g. "
                           "bash docker/engine.sh start) or use --backend process") from None
    return client


def image_user(client, image: str) -> tuple[object, str]:
    """The image and the non-root user it declares (``USER`` in docker/Dockerfile)."""
    from docker.errors import ImageNotFound

    try:
        found = client.images.get(image)
    except ImageNotFound:
        raise GradingError(f"the grading image {image} does not exist; build it: "
                           "bash docker/build_images.sh") from None
    user = (found.attrs.get("Config") or {}).get("User") or ""
    if user.split(":")[0] in ("", "0", "root"):
        raise GradingError(f"the image {image} runs as root; the grading image must declare a "
                           f"non-root USER ({REBUILD_HINT})")
    return found, user


def slot_user(user: str, slot: int) -> str:
    """Concurrent gradings (``slot``) get distinct uids, so RLIMIT_NPROC counts stay apart."""
    uid, _, gid = user.partition(":")
    if slot and uid.isdigit():
        return f"{int(uid) + slot}:{gid or uid}"
    return user


def docker_unavailable(image: str | None = None) -> str | None:
    """Why the Docker backend cannot run here (no engine, no image), or None when it can."""
    try:
        client = docker_client(timeout=20)
        image_user(client, image or DockerSettings().image)
    except GradingError as error:
        return str(error)
    return None


# ------------------------------------------------------------------ host files
def _open_tree(path: Path, mode: int) -> None:
    """Make a host directory the container user may read (``mode`` for directories)."""
    for directory, _, files in os.walk(path):
        os.chmod(directory, mode)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)


def copy_case_inputs(cases_dir: Path, target: Path) -> Path:
    """Only the ``*_input`` directories of public/ and hidden/: never an expected output."""
    for visibility in VISIBILITIES:
        for section in common.UNIT_SECTIONS:
            source = common.input_dir(Path(cases_dir) / visibility, section)
            shutil.copytree(source, common.input_dir(target / visibility, section))
    _open_tree(target, 0o755)
    return target


def collect_section(results: Path, name: str, expected_files: list[str], target: Path,
                    max_output_kb: int) -> ChildRun | None:
    """Copy a section's results to a host-private ``target``; its ChildRun, or None if absent.

    Only the expected names are copied; unreadable or oversized files are left out
    (the judge then calls the case output unreadable or missing).
    """
    target.mkdir(parents=True)
    try:
        raw = read_regular(results, [name, RUN_FILE], max_output_kb * 1024 * 8 + (64 << 10))
        run = ChildRun.model_validate_json(raw) if raw is not None else None
    except (UnreadableOutput, ValidationError):
        run = None
    caps = {"status.json": MAX_STATUS_BYTES}
    for file_name in ["status.json", *expected_files]:
        cap = caps.get(file_name, MAX_OUTPUT_BYTES)
        try:
            data = read_regular(results, [name, OUTPUT_SUBDIR, file_name], cap)
        except UnreadableOutput:
            # unreadable: leave a marker the judge cannot parse, rather than "missing"
            data = b"\0unreadable"
        if data is not None:
            (target / file_name).write_bytes(data)
    return run


def read_entry(results: Path) -> EntryResult | None:
    try:
        raw = read_regular(results, [ENTRY_FILE], MAX_ENTRY_BYTES)
        return EntryResult.model_validate_json(raw) if raw is not None else None
    except (UnreadableOutput, ValidationError):
        return None


# ------------------------------------------------------------------ the container
@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C, so the container is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number, frame):
        raise KeyboardInterrupt(f"signal {number}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def overall_timeout(config: GradingConfig, sections: list[str]) -> float:
    total = sum(config.mnist.timeout_seconds if name == "mnist" else config.unit.timeout_seconds
                for name in sections)
    return total + config.docker.timeout_margin_seconds


def run_container(client, image: str, user: str, settings: DockerSettings, mounts: list,
                  environment: dict[str, str], timeout: float) -> ContainerOutcome:
    """Create, start, wait for (at most ``timeout``) and always remove one container."""
    import requests
    from docker.errors import APIError, DockerException

    container, name, removed = None, f"nn-grader-{uuid.uuid4().hex[:12]}", False
    clock = time.perf_counter
    phases: dict[str, float] = {}
    started = mark = clock()

    def phase(label: str) -> None:
        nonlocal mark
        now = clock()
        phases[label] = round(now - mark, 3)
        mark = now

    try:
        with _sigterm_as_exit():
            container = client.containers.create(
                image, ENTRY_COMMAND, name=name,
                labels={CONTAINER_LABEL: "1"}, user=user, environment=environment,
                working_dir="/tmp", mounts=mounts, network_mode="none", read_only=True,
                tmpfs={"/tmp": f"size={settings.tmpfs_mb}m,mode=1777,exec"},
                mem_limit=f"{settings.memory_mb}m", memswap_limit=f"{settings.memory_mb}m",
                pids_limit=settings.pids_limit, nano_cpus=int(settings.cpus * 1e9),
                cap_drop=["ALL"], security_opt=["no-new-privileges"], init=False,
                ipc_mode="private", stdin_open=False, tty=False)
            phase("create")
            container.start()
            phase("start")
            timed_out = False
            try:
                exit_code = container.wait(timeout=timeout).get("StatusCode")
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                timed_out, exit_code = True, None
                container.kill()
                container.wait(timeout=60)
            phase("run")
            seconds = round(clock() - started, 3)
            oom_killed, logs = False, ""
            if exit_code != 0:  # only then is the engine asked why
                container.reload()
                oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
                logs = container.logs(stdout=True, stderr=True, tail=40).decode("utf-8", "replace")
            container.remove(force=True)
            removed = True
            phase("remove")
            return ContainerOutcome(exit_code=exit_code, oom_killed=oom_killed, timed_out=timed_out,
                                    seconds=seconds, logs=logs[-4000:], phases=phases)
    except (APIError, DockerException) as error:
        raise GradingError(f"the Docker engine failed to run the grading container: {error}") from None
    finally:  # also on Ctrl-C; by name when interrupted before create() returned
        if not removed:
            try:
                if container is None:
                    container = next(iter(client.containers.list(
                        all=True, filters={"name": name})), None)
                if container is not None:
                    container.remove(force=True)
            except DockerException:
                pass


def _missing_run(outcome: ContainerOutcome, settings: DockerSettings) -> ChildRun:
    """A section the container never reported: it was stopped first (timeout or OOM)."""
    if outcome.timed_out:
        return ChildRun(returncode=None, timed_out=True, seconds=outcome.seconds,
                        output_tail="the grading container overran its time and was killed")
    return ChildRun(returncode=-signal.SIGKILL, timed_out=False, seconds=outcome.seconds,
                    output_tail=f"the grading container was killed (memory limit of the "
                                f"container: {settings.memory_mb} MB)" if outcome.oom_killed else
                                f"the grading container ended with code {outcome.exit_code}")


# ------------------------------------------------------------------ grading
def _expected_mnist(inputs: MnistInputs) -> ImageMnist:
    return ImageMnist(name=inputs.name, test_images_sha256=sha256_file(inputs.test_images_path),
                      n_train=inputs.train_size, n_test=inputs.test_size)


def grade_in_container(source: bytes, options: GradingOptions, config: GradingConfig,
                       cases: dict[str, list[tuple[str, Case]]],
                       on_section: Callable[[SectionResult], None] | None
                       ) -> tuple[list[SectionResult], SandboxInfo]:
    """Run every requested section in one container; judge here. Same report as the process backend."""
    settings = config.docker
    image = options.image or settings.image
    client = docker_client(timeout=60)
    found, user = image_user(client, image)
    user = slot_user(user, options.slot)
    names = [section.name for section in common.UNIT_SECTIONS]
    inputs = None
    if not options.skip_mnist:
        inputs = prepare_mnist_inputs(options.mnist_dir, options.blas_threads,
                                      options.mnist_cache_dir, options.mnist_fetch)
        names.append("mnist")
    blas_threads = max(1, min(options.blas_threads, math.ceil(settings.cpus)))
    if inputs is not None:
        inputs.blas_threads = blas_threads
    with tempfile.TemporaryDirectory(prefix="nn-grader-docker-", ignore_cleanup_errors=True) as base:
        base = Path(base)
        spec_dir, cases_copy = base / "spec", base / "cases"
        results_root, token = base / "out", secrets.token_urlsafe(24)
        results, private = results_root / token, base / "judged"
        spec_dir.mkdir()
        spec = ContainerSpec(sections=names, unit=config.unit, mnist=config.mnist,
                             blas_threads=blas_threads,
                             expected_mnist=_expected_mnist(inputs) if inputs else None)
        (spec_dir / "spec.json").write_text(spec.model_dump_json(indent=1), encoding="utf-8")
        (spec_dir / "solution.py").write_bytes(source)
        _open_tree(spec_dir, 0o755)
        copy_case_inputs(options.cases_dir, cases_copy)
        results.mkdir(parents=True)
        results_root.chmod(0o711)  # traversable, neither listable nor writable: the token hides
        results.chmod(0o777)       # the one writable directory, for the image's user
        from docker.types import Mount

        mounts = [Mount("/spec", str(spec_dir), type="bind", read_only=True),
                  Mount("/cases", str(cases_copy), type="bind", read_only=True),
                  Mount("/out", str(results_root), type="bind", read_only=False)]
        outcome = run_container(client, image, user, settings, mounts,
                                {RESULTS_TOKEN_ENV: token}, overall_timeout(config, names))
        entry = read_entry(results)
        if entry is not None and entry.error_kind == "mnist_mismatch":
            raise GradingError(f"the grading image {image} does not match this machine's MNIST "
                               f"data: {entry.error}; {REBUILD_HINT}")
        if outcome.exit_code == EXIT_MNIST_MISMATCH:
            raise GradingError(f"the grading image {image} does not match this machine's MNIST "
                               f"data; {REBUILD_HINT}")
        expected_mnist = spec.expected_mnist
        if (entry is not None and entry.ok and expected_mnist is not None
                and (entry.image_mnist is None or entry.image_mnist.test_images_sha256
                     != expected_mnist.test_images_sha256)):
            raise GradingError(f"the grading image {image} did not confirm this machine's MNIST "
                               f"test images ({expected_mnist.name}, SHA-256 "
                               f"{expected_mnist.test_images_sha256}); {REBUILD_HINT}")
        if entry is not None and entry.error_kind == "crash":
            raise GradingError(f"the grading container failed:\n{entry.error}")
        if entry is None and not (outcome.timed_out or outcome.oom_killed):
            raise GradingError(f"the grading container ended (code {outcome.exit_code}) without "
                               f"a result; its last output:\n{outcome.logs}")
        sections: list[SectionResult] = []
        for name in names:
            section = common.SECTIONS_BY_NAME[name]
            if name == "mnist":
                expected = [MNIST_PREDICTIONS]
                limits = config.mnist
            else:
                expected = [case_output_name(visibility, case.name) for visibility, case in cases[name]]
                limits = config.unit
            run = collect_section(results, name, expected, private / name, limits.max_output_kb)
            run = run or _missing_run(outcome, settings)
            if name == "mnist":
                result = judge_mnist_section(section, run, private / name, inputs, config.mnist)
            else:
                result = judge_unit_section(section, cases[name], run, private / name,
                                            options.cases_dir, config.unit)
            sections.append(result)
            if on_section:
                on_section(result)
        if options.skip_mnist:
            sections.append(skipped_section(common.SECTIONS_BY_NAME["mnist"]))
            if on_section:
                on_section(sections[-1])
    uid = user.split(":")[0]
    sandbox = SandboxInfo(
        backend="docker", isolation="container", network_cut=True, secrets_hidden=True,
        sandbox_uid=int(uid) if uid.isdigit() else None,
        notes=[f"one container per submission: image {image} ({found.short_id}), no network, "
               f"read-only root, all capabilities dropped, {settings.cpus:g} CPUs, "
               f"{settings.memory_mb} MB, {settings.pids_limit} pids; sections run in turn",
               "container: " + ", ".join(f"{label} {seconds:.2f} s"
                                         for label, seconds in outcome.phases.items())
               + (f" (entry {entry.seconds:.2f} s)" if entry else "")])
    return sections, sandbox
