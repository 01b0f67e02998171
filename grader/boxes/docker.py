"""The Docker box: the same supervisor in a container of the grading image.

The image (``docker/build_images.sh``) holds Python, numpy and the sections'
read-only data files, each at the path its label names (``nn-grader.data.<role>``,
with its SHA-256, which must be the host's file's), nothing else: no grader, no
test case. Everything else arrives like in the bubblewrap box, in the bundle on
the container's stdin (attached; ``StdinOnce``, so the container's stdin ends
when the grader does, and the supervisor then kills everything and exits);
frames come back on its stdout. Nothing is bind-mounted.

The container: no network, read-only root, a size-limited ``/tmp`` and
``/dev/shm``, memory (no swap), pids and CPUs from the box plan, no
capabilities, no new privileges, the seccomp rules of
``grader.boxes.seccomp_filter``, and a uid of this grading's own. Containers carry
the label ``nn-grader=1`` and the grader's pid; a grading removes containers
whose grader is gone.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from grader.boxes.base import (
    BOOTSTRAP_SOURCE,
    STDERR,
    STDOUT,
    Box,
    BoxExit,
    BoxLimits,
    BoxShape,
    BoxUnavailable,
    Isolation,
    RunningBox,
    queued_chunks,
)
from grader.boxes.cgroups import Cgroup
from grader.boxes.protocol import BOX_DIR, BoxRequest
from grader.boxes.seccomp_filter import docker_profile
from grader.config import DockerSettings

CONTAINER_LABEL = "nn-grader"
GRADER_LABEL = "nn-grader.grader"        # host:pid of the grader that made the container
PYTHON_LABEL = "nn-grader.python"        # the image's interpreter (with numpy)
DATA_LABEL = "nn-grader.data."           # + role: a data file in the image; + ".sha256": its hash
REBUILD_HINT = "rebuild the grading image: bash docker/build_images.sh"
STREAMS = {1: STDOUT, 2: STDERR}


def docker_client(timeout: float = 60):
    """A client of the local engine, or ``BoxUnavailable`` saying how to get one."""
    from docker.errors import DockerException

    import docker

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as error:
        raise BoxUnavailable(f"cannot reach a Docker engine ({error}); start one (e.g. "
                             "bash docker/engine.sh start) or use --box bwrap") from None
    return client


def sha256(path: Path) -> str:
    """The SHA-256 of a file, computed once per version of it."""
    stat = path.stat()
    return _sha256(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def grader_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a killed grader not yet reaped is a zombie: gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def remove_stale_containers(client) -> None:
    """Containers of graders on this host that are gone (killed with SIGKILL, say)."""
    from docker.errors import DockerException

    host = socket.gethostname()
    try:  # one listing call: container objects would be inspected one by one after it
        containers = client.api.containers(all=True, filters={"label": CONTAINER_LABEL})
    except DockerException:
        return
    for container in containers:
        owner = (container.get("Labels") or {}).get(GRADER_LABEL, "")
        name, _, pid = owner.partition(":")
        if name == host and pid.isdigit() and not running(int(pid)):
            try:
                client.api.remove_container(container["Id"], force=True)
            except DockerException:
                pass


class DockerProcess(RunningBox):
    """A container: created once its limits are known (``complete``), its attached streams
    read by a thread into a queue."""

    def __init__(self, box: DockerBox, shape: BoxShape):
        self.box, self.shape = box, shape
        self.container = self.attached = self.cgroup = None
        self.killed, self.started = False, time.monotonic()
        self.chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

    def complete(self, request: BoxRequest, limits: BoxLimits) -> BoxRequest:
        self.container, self.attached = self.box.create(self.shape, limits)
        self.started = time.monotonic()
        self.container.reload()
        self.cgroup = Cgroup.of_process(self.container.attrs.get("State", {}).get("Pid") or 0)
        threading.Thread(target=self._pump, name="box-stdout", daemon=True).start()
        self.resources = (f"container cgroup: {limits.memory_mb} MB (no swap), "
                          f"{limits.max_processes} pids, {self.box.settings.cpus:g} CPUs")
        return dataclasses.replace(request, data={
            role: self.box.labels[f"{DATA_LABEL}{role}"] for role, _ in self.shape.data_files})

    def _pump(self) -> None:
        from docker.utils.socket import frames_iter_no_tty

        try:
            for stream, data in frames_iter_no_tty(self.attached):
                if stream in STREAMS and data:
                    self.chunks.put((STREAMS[stream], data))
        except (OSError, ValueError):
            pass
        self.chunks.put((STDOUT, b""))

    def send(self, data: bytes) -> None:
        def write() -> None:
            try:
                self.attached._sock.sendall(data)
            except OSError:
                pass

        threading.Thread(target=write, name="box-stdin", daemon=True).start()

    def read(self, timeout: float) -> list[tuple[str, bytes]]:
        return queued_chunks(self.chunks, timeout)

    def kill(self) -> None:
        from docker.errors import DockerException

        self.killed = True
        if self.container is not None:
            try:
                self.container.kill()
            except DockerException:
                pass

    def oom_kills(self) -> int:
        """From the container's cgroup, read on the host (where the host may read it)."""
        return self.cgroup.usage().oom_kills if self.cgroup is not None else 0

    def cpu_seconds(self) -> float | None:
        return self.cgroup.usage().cpu_seconds if self.cgroup is not None else None

    def finish(self, timeout: float) -> BoxExit:
        import requests
        from docker.errors import DockerException

        if self.container is None:  # never created: nothing ran
            return BoxExit(returncode=None, killed_by_host=self.killed)
        try:
            code = self.container.wait(timeout=max(timeout, 0.1)).get("StatusCode")
        except (requests.exceptions.RequestException, DockerException):
            self.kill()
            code = self.container.wait(timeout=60).get("StatusCode")
        oom = False
        try:
            self.container.reload()
            oom = bool(self.container.attrs.get("State", {}).get("OOMKilled"))
        except DockerException:
            pass
        try:
            self.attached.close()
        except OSError:
            pass
        try:
            self.container.remove(force=True)
        except DockerException:
            pass
        if code is not None and code > 128:  # the engine's way of saying "killed by a signal"
            code = -(code - 128)
        return BoxExit(returncode=code, oom_kills=int(oom), killed_by_host=self.killed)


class DockerBox(Box):
    name = "docker"

    def __init__(self, image: str, settings: DockerSettings):
        from docker.errors import ImageNotFound

        self.client = docker_client()
        try:
            found = self.client.images.get(image)
        except ImageNotFound:
            raise BoxUnavailable(f"the grading image {image} does not exist; build it: "
                                 "bash docker/build_images.sh") from None
        labels = (found.attrs.get("Config") or {}).get("Labels") or {}
        if PYTHON_LABEL not in labels:
            raise BoxUnavailable(f"the image {image} is not a grading image (no {PYTHON_LABEL} "
                                 f"label); {REBUILD_HINT}")
        self.image, self.labels, self.settings = image, labels, settings
        self.short_id = found.short_id
        remove_stale_containers(self.client)

    @classmethod
    def from_config(cls, options, config) -> DockerBox:
        return cls(options.image or config.docker.image, config.docker)

    def needs_uid(self) -> bool:
        return True

    def uid_base(self, config) -> int:
        return config.docker.uid_base

    def isolation(self, uid: int | None,
                  secrets: Callable[[], list[Path]] = list) -> Isolation:
        return Isolation(box=self.name, uid=uid, notes=[
            f"a container of {self.image} ({self.short_id}) per box: no network, read-only root, "
            "no capabilities, no new privileges, seccomp filter, nothing mounted"])

    def check_data(self, shape: BoxShape) -> None:
        """The image must hold each data file of the box as the host has it (the host judges
        with what goes with them: a test set's labels)."""
        for role, path in shape.data_files:
            held, expected = self.labels.get(f"{DATA_LABEL}{role}.sha256"), sha256(path)
            if f"{DATA_LABEL}{role}" not in self.labels or held != expected:
                raise BoxUnavailable(f"the image {self.image} does not hold this machine's "
                                     f"'{role}' data file {path} (SHA-256 {expected}; the "
                                     f"image's: {held}); {REBUILD_HINT}")

    def start(self, shape: BoxShape) -> RunningBox:
        self.check_data(shape)
        return DockerProcess(self, shape)

    def create(self, shape: BoxShape, limits: BoxLimits):
        """Create, attach to and start the container of ``shape`` with ``limits``."""
        from docker.errors import DockerException

        size = f"size={shape.scratch_mb}m,mode=1777"
        try:
            container = self.client.containers.create(
                self.image, [self.labels[PYTHON_LABEL], "-I", "-c", BOOTSTRAP_SOURCE, BOX_DIR],
                name=f"nn-grader-{uuid.uuid4().hex[:12]}", user=f"{shape.uid}:{shape.uid}",
                labels={CONTAINER_LABEL: "1", GRADER_LABEL: grader_id()},
                environment=shape.environment(), working_dir="/tmp", network_mode="none",
                read_only=True, tmpfs={"/tmp": size}, shm_size=shape.scratch_mb << 20,
                mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m",
                pids_limit=limits.max_processes, nano_cpus=int(self.settings.cpus * 1e9),
                cap_drop=["ALL"], ipc_mode="private", stdin_open=True, tty=False,
                security_opt=["no-new-privileges",
                              f"seccomp={json.dumps(docker_profile())}"])
            attached = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            container.start()
        except DockerException as error:
            raise BoxUnavailable(f"the Docker engine could not start the box: {error}") from None
        return container, attached
