"""Inside every box, the same supervisor: one import, then one child process per run.

Started by ``grader/boxes/bootstrap.py`` as the box's PID 1 (bubblewrap
``--as-pid-1``, or a container's entry), as the unprivileged box user. It

1. makes itself hard to disturb: signals at their defaults (PID 1 of a
   namespace then ignores them, SIGKILL included, when they come from inside),
   not dumpable (no ptrace, no ``/proc/1/mem``), a subreaper for orphans;
2. keeps stdout as the channel to the host and points fd 1 at stderr, so that
   nothing the submission prints can pass for a frame;
3. imports numpy, the course framework and ``solution.py`` once (the host
   bounds this with the import time limit);
4. for every run of the request forks a child with that run's limits
   (``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_NPROC``, ``RLIMIT_FSIZE``, no core),
   runs the run's entry point there (``RunSpec.entry``: a function of a runtime
   module, given a ``ChildRun``), relays the child's validated case frames, keeps
   the tail of what it printed, enforces the wall-clock limit (and, for a run that
   has one, the idle limit: ``grader.boxes.process_watch.IdleWatch``), then kills
   and reaps every process but itself.

The end of stdin means the host is gone: everything is killed at once.
Standard library and numpy only.
"""
from __future__ import annotations

import ctypes
import gc
import importlib
import io
import json
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from grader.boxes import protocol
from grader.boxes.process_watch import (
    IdleWatch,
    OutputTail,
    child_cpu_seconds,
    descendants_cpu_seconds,
    kill_everything,
)
from grader.boxes.protocol import (
    BoxRequest,
    CaseFrame,
    Done,
    Hello,
    Imported,
    NeedInputs,
    Progress,
    RunEnded,
    RunSpec,
    RunStarted,
)

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
READ_CHUNK = 1 << 16
MAX_OPEN_FILES = 64  # with RLIMIT_FSIZE it bounds memfd memory, which RLIMIT_AS does not count
MEBIBYTE = 1 << 20


class Modules:
    """What the import gave: the submission, the framework, numpy and the runs' entry points."""

    def __init__(self, solution, interface, common, numpy, entries: dict[str, Callable]):
        self.solution, self.interface, self.common, self.numpy = solution, interface, common, numpy
        self.entries = entries  # RunSpec.entry -> its function


# ------------------------------------------------------------------ set-up
def become_init() -> None:
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                   signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class Channel:
    """The frames to the host, on the file descriptor that was stdout."""

    def __init__(self, descriptor: int):
        self.descriptor = descriptor

    def send(self, frame, payload: bytes = b"") -> None:
        data = memoryview(protocol.encode_frame(frame, payload))
        while data:
            data = data[os.write(self.descriptor, data):]


def set_limit(name: str, value: int) -> None:
    limit = getattr(resource, name)
    hard = resource.getrlimit(limit)[1]
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(limit, (value, value))


def warm_up(common, numpy) -> None:
    """What every child would do first, done once here (before the submission is imported,
    so with the framework's own code only): each fork then starts warm."""
    numpy.random.RandomState  # noqa: B018 - numpy loads its random module on first use
    buffer = io.BytesIO()
    common.save_npz(buffer, {"x": numpy.ones((2, 2)) @ numpy.ones((2, 2))}, compress=False)
    buffer.seek(0)
    with numpy.load(buffer, allow_pickle=False) as archive:
        archive["x"]


def input_folder(spec: RunSpec) -> str:
    """Where a run's inputs are among the files the host sent."""
    return f"{protocol.INPUTS_SUBDIR}/{spec.visibility}/{spec.input_dir}"


class Inputs:
    """The case inputs the host sent, and their arrays, decoded once here: every fork then
    starts with them (a child decoding them itself would pay again for cold code and pages)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.arrays = files, {}

    def add(self, files: dict[str, bytes]) -> None:
        self.files.update(files)

    def decode(self, numpy, folder: str = "") -> None:
        """The arrays of the files not decoded yet (under ``folder`` only, if given)."""
        for name, data in self.files.items():
            if name.endswith(".npz") and name not in self.arrays and \
                    name.startswith(f"{folder}/" if folder else ""):
                try:
                    with numpy.load(io.BytesIO(data), allow_pickle=False) as archive:
                        self.arrays[name] = {key: archive[key] for key in archive.files}
                except (OSError, ValueError, EOFError):  # the run that needs it fails (KeyError)
                    continue


def import_modules(box_dir: Path, request: BoxRequest) -> Modules:
    """numpy, the framework and the runs' entry points first (their import is not the
    submission's), then solution.py."""
    import numpy

    sys.path.insert(0, str(box_dir))  # solution.py and, for `from interface import *`, the framework
    interface = importlib.import_module("interface")
    common = importlib.import_module("common")
    entries = {}
    for entry in {spec.entry for spec in request.runs}:
        module, _, function = entry.partition(":")
        entries[entry] = getattr(importlib.import_module(module), function)
    warm_up(common, numpy)
    solution = importlib.import_module("solution")
    return Modules(solution, interface, common, numpy, entries)


# ------------------------------------------------------------------ children
class ChildRun:
    """What a run's entry point is given in its child: the spec, the imported modules, the
    run's inputs (decoded before the fork), the data files by role, and the frames to send."""

    def __init__(self, spec: RunSpec, modules: Modules, inputs: Inputs, data: dict[str, str],
                 results: int):
        self.spec, self.data, self.inputs, self.results = spec, data, inputs, results
        self.solution, self.interface = modules.solution, modules.interface
        self.common, self.numpy = modules.common, modules.numpy
        self.folder = input_folder(spec)

    def input_file(self, name: str) -> bytes:
        """A file of the run's input folder, as the host sent it."""
        return self.inputs.files[f"{self.folder}/{name}"]

    def input_arrays(self, name: str) -> dict:
        """The arrays of an ``.npz`` of the run's input folder (a dict of its own)."""
        return dict(self.inputs.arrays[f"{self.folder}/{name}"])

    def emit(self, frame: CaseFrame, payload: bytes = b"") -> None:
        frame.error = frame.error[-protocol.MAX_TEXT_CHARS:]
        Channel(self.results).send(frame, payload)

    def ran(self, name: str, arrays: dict, seconds: float, **fields) -> None:
        """A case that returned: its output ``arrays`` go as an ``.npz`` payload."""
        buffer = io.BytesIO()
        self.common.save_npz(buffer, arrays, compress=False)  # a pipe: compressing costs time
        self.emit(CaseFrame(name=name, raised=False, seconds=round(seconds, 4), **fields),
                  buffer.getvalue())

    def raised(self, name: str, error: BaseException, seconds: float) -> None:
        """A case whose code raised ``error``: its traceback, trimmed to the submission."""
        self.emit(CaseFrame(name=name, raised=True, error=self.common.student_traceback(error),
                            error_type=type(error).__name__,
                            memory_error=isinstance(error, MemoryError),
                            seconds=round(seconds, 4)))


def child_main(spec: RunSpec, request: BoxRequest, inputs: Inputs, modules: Modules,
               results: int, output: int, work: Path) -> None:
    """In the forked child: limits, output to the supervisor's pipes, the run's entry point."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    for descriptor in (null, output):
        os.close(descriptor)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CPU, (spec.cpu_seconds, spec.cpu_seconds + 1))
    set_limit("RLIMIT_AS", spec.memory_mb * MEBIBYTE)
    set_limit("RLIMIT_NPROC", spec.max_processes)
    set_limit("RLIMIT_FSIZE", spec.max_file_size_mb * MEBIBYTE)
    set_limit("RLIMIT_CORE", 0)
    set_limit("RLIMIT_NOFILE", MAX_OPEN_FILES)
    os.chdir(work)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    modules.entries[spec.entry](ChildRun(spec, modules, inputs, request.data, results))


# ------------------------------------------------------------------ supervising
class Supervisor:
    """Runs a request's runs one after the other and reports each on the channel."""

    def __init__(self, box_dir: Path, request: BoxRequest, channel: Channel,
                 inputs: dict[str, bytes], read_bundle: Callable[[], dict[str, bytes]]):
        self.box_dir, self.request, self.channel = box_dir, request, channel
        self.inputs = Inputs(inputs)
        self.read_bundle = read_bundle  # the bootstrap's reader of stdin

    def kill_everything(self) -> None:
        kill_everything(self.request.kill_all_between_runs)

    def host_is_gone(self) -> None:
        self.kill_everything()
        os._exit(protocol.EXIT_HOST_GONE)

    def start_child(self, index: int, spec: RunSpec, modules: Modules) -> tuple[int, int, int]:
        """Fork the run's child; returns its pid and the read ends of its results and output."""
        results_read, results_write = os.pipe()
        output_read, output_write = os.pipe()
        work = self.box_dir.parent / protocol.WORK_SUBDIR / str(index)
        try:
            work.mkdir(parents=True)
        except OSError:  # the submission filled its scratch space: run where it is
            work = work.parent
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(results_read)
                os.close(output_read)
                os.close(self.channel.descriptor)
                child_main(spec, self.request, self.inputs, modules, results_write,
                           output_write, work)
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001 - e.g. its frames could not be written
                code = 1
            os._exit(code)
        os.close(results_write)
        os.close(output_write)
        return pid, results_read, output_read

    def supervise(self, index: int, spec: RunSpec, modules: Modules) -> RunEnded:
        """Run ``spec`` in a child; relay its frames; whatever it does, end with nothing running."""
        cpu_before, started = child_cpu_seconds(), time.monotonic()
        self.inputs.decode(modules.numpy, input_folder(spec))  # the child's, before its fork
        pid, results_read, output_read = self.start_child(index, spec, modules)
        self.inputs.decode(modules.numpy)  # the later runs', while the child runs
        reader = protocol.FrameReader(protocol.MAX_CASE_PAYLOAD_BYTES, {CaseFrame.kind: CaseFrame})
        tail = OutputTail(spec.max_output_kb * 1024)
        relayed, rejected = 0, ""
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        for descriptor in (results_read, output_read, pidfd, 0):
            poller.register(descriptor, select.POLLIN)
        open_pipes = {results_read, output_read}
        deadline = started + spec.timeout_seconds
        last_progress, timed_out, status, idle = started, False, None, None

        def run_cpu_seconds() -> float | None:
            """The run's CPU time so far: its processes', and those this supervisor reaped."""
            live = descendants_cpu_seconds(pid)
            return None if live is None else live + child_cpu_seconds() - cpu_before

        watch = IdleWatch(spec.idle_seconds, spec.idle_cpu_share, started, run_cpu_seconds) \
            if spec.idle_seconds else None

        def relay(data: bytes) -> None:
            nonlocal relayed, rejected
            if rejected:
                return
            try:
                for frame, payload in reader.feed(data):
                    relayed += len(payload)
                    if relayed > protocol.MAX_RUN_PAYLOAD_BYTES:
                        raise protocol.ProtocolError("the outputs are larger than "
                                                     f"{protocol.MAX_RUN_PAYLOAD_BYTES} bytes")
                    frame.run = index
                    self.channel.send(frame, payload)
            except protocol.ProtocolError as error:
                rejected = str(error)

        def drain(descriptor: int, chunk: bytes) -> None:
            relay(chunk) if descriptor == results_read else tail.add(chunk)

        while status is None or open_pipes:
            now = time.monotonic()
            if status is None and now >= deadline:
                timed_out = True
                break
            if status is None and watch and (idle := watch.check(now)):
                break
            wake = min(deadline, watch.next_sample) if watch else deadline
            wait = min(wake - now, 1.0) if status is None else 0.05
            for descriptor, _ in poller.poll(max(0.0, wait) * 1000):
                if descriptor == 0:
                    if not os.read(0, READ_CHUNK):
                        self.host_is_gone()
                elif descriptor == pidfd:
                    poller.unregister(pidfd)
                    status = os.waitpid(pid, 0)[1]
                elif chunk := os.read(descriptor, READ_CHUNK):
                    drain(descriptor, chunk)
                else:
                    poller.unregister(descriptor)
                    open_pipes.discard(descriptor)
            if status is not None and open_pipes:
                self.kill_everything()  # what the child started must not hold its pipes open
            if spec.progress_seconds and tail.changed and \
                    time.monotonic() - last_progress >= spec.progress_seconds:
                last_progress, tail.changed = time.monotonic(), False
                self.channel.send(Progress(run=index, seconds=round(last_progress - started, 1),
                                           last_line=tail.last_line()))
        self.kill_everything()  # after a timeout or an idle stop this reaps the child too
        for descriptor in open_pipes:  # everything is dead now: the rest is finite
            while chunk := os.read(descriptor, READ_CHUNK):
                drain(descriptor, chunk)
        for descriptor in (results_read, output_read, pidfd):
            os.close(descriptor)
        returncode = signal_number = None
        if status is not None and os.WIFSIGNALED(status):
            signal_number = os.WTERMSIG(status)
        elif status is not None:
            returncode = os.waitstatus_to_exitcode(status)
        if reader.pending and not rejected:
            rejected = "the last frame was cut off"
        return RunEnded(run=index, returncode=returncode, signal=signal_number,
                        timed_out=timed_out, seconds=round(time.monotonic() - started, 3),
                        cpu_seconds=round(child_cpu_seconds() - cpu_before, 3),
                        output_tail=tail.text(), output_truncated=tail.truncated,
                        rejected=rejected, idle=idle)

    def receive_inputs(self, visibility: str) -> None:
        """Ask the host for the ``visibility`` inputs (after the public runs); kept in memory."""
        self.channel.send(NeedInputs(visibility=visibility))
        try:
            self.inputs.add(self.read_bundle())  # decoded run by run (``supervise``)
        except (EOFError, ValueError):
            self.host_is_gone()

    def run(self) -> None:
        started = time.monotonic()
        import numpy

        self.channel.send(Hello(pid=os.getpid(), uid=os.getuid(), python=sys.version.split()[0],
                                numpy=numpy.__version__))
        (self.box_dir.parent / protocol.WORK_SUBDIR).mkdir(exist_ok=True)
        os.chdir(self.box_dir.parent / protocol.WORK_SUBDIR)
        self.inputs.decode(numpy)  # before the submission is imported, so by numpy's own code
        gc.enable()  # the bootstrap loaded with it off: the submission runs as Python starts
        import_started = time.monotonic()
        try:
            modules = import_modules(self.box_dir, self.request)
        except BaseException as error:  # noqa: BLE001 - syntax errors, exceptions, sys.exit()
            common = importlib.import_module("common")
            self.channel.send(Imported(
                ok=False, seconds=round(time.monotonic() - import_started, 3),
                error=common.student_traceback(error)[-protocol.MAX_TEXT_CHARS:],
                error_type=type(error).__name__))
        else:
            self.channel.send(Imported(ok=True,
                                       seconds=round(time.monotonic() - import_started, 3)))
            self.kill_everything()  # processes the import may have started
            gc.freeze()  # the children's collector then leaves the imported objects (and their
            #             copy-on-write pages) alone: each fork costs far less
            received = {"public"}
            for index, spec in enumerate(self.request.runs):
                if spec.visibility not in received:
                    self.receive_inputs(spec.visibility)
                    received.add(spec.visibility)
                self.channel.send(RunStarted(run=index))
                self.channel.send(self.supervise(index, spec, modules))
        self.channel.send(Done(seconds=round(time.monotonic() - started, 3)))


def main(box_dir: str, inputs: dict[str, bytes],
         read_bundle: Callable[[], dict[str, bytes]]) -> None:
    """Entry from the bootstrap: the runs of ``request.json``, every one reported."""
    box = Path(box_dir)
    become_init()
    channel = Channel(os.dup(1))
    os.dup2(2, 1)  # what the submission prints goes to stderr, never to the channel
    request = protocol.from_dict(BoxRequest, json.loads(
        (box / protocol.REQUEST_FILE).read_text(encoding="utf-8")))
    set_limit("RLIMIT_CORE", 0)
    if request.memory_mb:
        set_limit("RLIMIT_AS", request.memory_mb * MEBIBYTE)
    Supervisor(box, request, channel, inputs, read_bundle).run()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(protocol.EXIT_OK)  # threads the submission started at import must not hold us
