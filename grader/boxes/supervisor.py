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
   relays the child's validated case frames, keeps the tail of what it printed,
   enforces the wall-clock limit (and, for a run that has one, the idle limit:
   ``IdleWatch``), then kills and reaps every process but itself.

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
from collections import deque
from collections.abc import Callable
from pathlib import Path

from grader.boxes import protocol
from grader.boxes.protocol import (
    MNIST,
    UNIT,
    BoxRequest,
    CaseFrame,
    Done,
    Hello,
    IdleStop,
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
REAP_SECONDS = 5.0
MEBIBYTE = 1 << 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of the CPU times in /proc/<pid>/stat
IDLE_SAMPLE_SECONDS = 1.0  # how often a run with an idle limit has its CPU time read
# Samples further apart than this mean the supervisor itself was held (blocked sending frames to
# a host that did not read them): the run may have been waiting for it, so its window restarts.
IDLE_GAP_SECONDS = 5.0


class Modules:
    """What the import gave: the submission, the framework and numpy."""

    def __init__(self, solution, interface, common, numpy):
        self.solution, self.interface, self.common, self.numpy = solution, interface, common, numpy


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
    """Where a unit run's inputs are among the files the host sent."""
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


def import_modules(box_dir: Path) -> Modules:
    """numpy and the framework first (their import is not the submission's), then solution.py."""
    import numpy

    sys.path.insert(0, str(box_dir))  # solution.py and, for `from interface import *`, the framework
    interface = importlib.import_module("interface")
    common = importlib.import_module("common")
    warm_up(common, numpy)
    solution = importlib.import_module("solution")
    return Modules(solution, interface, common, numpy)


# ------------------------------------------------------------------ children
def child_main(spec: RunSpec, request: BoxRequest, inputs: Inputs, modules: Modules,
               results: int, output: int, work: Path) -> None:
    """In the forked child: limits, output to the supervisor's pipes, the run's code."""
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

    def emit(frame: CaseFrame, payload: bytes = b"") -> None:
        frame.error = frame.error[-protocol.MAX_TEXT_CHARS:]
        Channel(results).send(frame, payload)

    CHILD_RUNS[spec.kind](spec, request, inputs, modules, emit)


def exception_frame(name: str, error: BaseException, common, seconds: float) -> CaseFrame:
    return CaseFrame(name=name, status="exception", error=common.student_traceback(error),
                     error_type=type(error).__name__, memory_error=isinstance(error, MemoryError),
                     seconds=round(seconds, 4))


def npz_bytes(common, arrays: dict) -> bytes:
    buffer = io.BytesIO()
    common.save_npz(buffer, arrays, compress=False)  # a pipe: compressing only costs time
    return buffer.getvalue()


def run_unit_cases(spec: RunSpec, request: BoxRequest, inputs: Inputs, modules: Modules,
                   emit) -> None:
    """Every case of one section and visibility: its outputs as arrays, or its exception."""
    common, numpy = modules.common, modules.numpy
    folder = input_folder(spec)
    records = json.loads(inputs.files[f"{folder}/{common.CASES_FILE}"])["cases"]
    for case in (common.Case(**record) for record in records):
        arrays = dict(inputs.arrays[f"{folder}/{case.name}.npz"])
        started = time.perf_counter()
        try:
            outputs = common.execute_case(modules.solution, modules.interface, case, arrays)
        except BaseException as error:  # noqa: BLE001 - the student's code failed: a verdict
            emit(exception_frame(case.name, error, common, time.perf_counter() - started))
            continue
        seconds = round(time.perf_counter() - started, 4)
        results = {name: value for name, value in outputs.items()
                   if isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf"}
        not_arrays = {name: common.describe_value(value) for name, value in outputs.items()
                      if name not in results}
        results.update({name: numpy.asarray(value, dtype=numpy.float64)  # for the diagnosis
                        for name, value in outputs.items() if name in not_arrays and
                        isinstance(value, (numpy.number, int, float)) and
                        not isinstance(value, bool)})
        emit(CaseFrame(name=case.name, status="ran", not_arrays=not_arrays, seconds=seconds),
             npz_bytes(common, results))


def run_mnist(spec: RunSpec, request: BoxRequest, inputs: Inputs, modules: Modules,
              emit) -> None:
    """Train on the course's preprocessed MNIST and predict the test images (no labels here)."""
    common, numpy = modules.common, modules.numpy
    mnist_data = importlib.import_module("mnist_data")
    paths = request.mnist
    with numpy.load(paths.train, allow_pickle=False) as train:
        x_train, y_train = train["x"], train["y"]
    x_test = numpy.load(paths.test_images, allow_pickle=False)
    sets = mnist_data.preprocess_course(x_train, y_train, x_test)
    started = time.perf_counter()
    try:
        model = modules.solution.train_mnist_model(sets.x_train, sets.y_train, sets.x_valid,
                                                   sets.y_valid)
        train_seconds = round(time.perf_counter() - started, 3)
        if not isinstance(model, modules.interface.Model):
            raise TypeError(f"train_mnist_model must return a Model, got {type(model).__name__}")
        predicted = common.predict_classes(model, sets.x_test)
    except BaseException as error:  # noqa: BLE001 - the student's code failed: a verdict
        emit(exception_frame("mnist", error, common, time.perf_counter() - started))
        return
    emit(CaseFrame(name="mnist", status="ran", seconds=round(time.perf_counter() - started, 3),
                   train_seconds=train_seconds),
         npz_bytes(common, {protocol.MNIST_PREDICTIONS: predicted}))


CHILD_RUNS = {UNIT: run_unit_cases, MNIST: run_mnist}  # the child's code, by run kind


# ------------------------------------------------------------------ supervising
class OutputTail:
    """The last ``limit`` bytes a run printed."""

    def __init__(self, limit: int):
        self.limit, self.data, self.truncated, self.changed = limit, bytearray(), False, False

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        self.changed = True
        if len(self.data) > self.limit:
            del self.data[:len(self.data) - self.limit]
            self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    def last_line(self) -> str:
        """The last non-empty line, a progress bar's last state (after ``\\r``) included."""
        for line in reversed(self.text().replace("\r", "\n").splitlines()):
            if line.strip():
                return line.strip()[-300:]
        return ""


def children_of(pid: int | str = "self") -> list[int]:
    """The children of every thread of process ``pid`` (none once it has ended)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    pids = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as stream:
                pids += [int(child) for child in stream.read().split()]
        except OSError:
            continue
    return pids


def process_cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``: its threads' and its reaped children's CPU
    time (0 once it is gone: its parent's cutime and cstime then hold it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            fields = stream.read().rsplit(b")", 1)[1].split()  # the name may hold anything
        return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def descendants_cpu_seconds(child: int) -> float | None:
    """CPU time of every process below this one, with the children they reaped. Each process is
    read before its parent: one reaped meanwhile is then counted twice, never missed. None when
    ``child`` (not reaped yet, so listed) is not among this one's children: a kernel without
    ``/proc/<pid>/task/<tid>/children`` (gVisor...), where no walk tells idle from busy."""
    pids = children_of()
    if child not in pids:
        return None
    for pid in pids:  # breadth first: the list grows while it is walked
        pids += children_of(pid)
    return sum(process_cpu_seconds(pid) for pid in reversed(pids))


def kill_everything(kill_all: bool) -> None:
    """Kill and reap every process but this one: in a namespace (or as a uid of our own)
    ``kill(-1)``; otherwise every child this subreaper has, until none is left."""
    deadline = time.monotonic() + REAP_SECONDS
    while time.monotonic() < deadline:
        if kill_all:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children_of():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.002)


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class IdleWatch:
    """Stops a run whose processes have stopped computing (sleeping, blocked on a lock, a pipe,
    input or a child that waits): such a run would hold its box, and in a class its worker,
    until its wall-clock limit. The run is idle when, over its last ``seconds`` (counted once
    that much of it has passed), the CPU time ``used()`` reads grew by less than
    ``protocol.IDLE_CPU_SHARE`` of the window; never while ``used()`` cannot tell (None)."""

    def __init__(self, seconds: float, started: float, used: Callable[[], float | None]):
        self.seconds, self.used = seconds, used
        self.samples = deque([(started, 0.0)])  # (when, CPU seconds), oldest first
        self.most = 0.0  # the largest reading: a process missed in one walk cannot lower it
        self.next_sample = started + IDLE_SAMPLE_SECONDS

    def check(self, now: float) -> IdleStop | None:
        """Read the run's CPU time when a sample is due; an ``IdleStop`` if the run is idle."""
        if now < self.next_sample:
            return None
        self.next_sample = now + IDLE_SAMPLE_SECONDS
        used = self.used()
        if used is None:
            return None
        self.most = max(self.most, used)
        if now - self.samples[-1][0] > IDLE_GAP_SECONDS:
            self.samples.clear()
        self.samples.append((now, self.most))
        while len(self.samples) > 1 and self.samples[1][0] <= now - self.seconds:
            self.samples.popleft()
        since, before = self.samples[0]
        window, grown = now - since, self.most - before
        if window >= self.seconds and grown < protocol.IDLE_CPU_SHARE * window:
            return IdleStop(window_seconds=round(window, 1), cpu_seconds=round(grown, 3))
        return None


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

        watch = IdleWatch(spec.idle_seconds, started, run_cpu_seconds) if spec.idle_seconds \
            else None

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
            modules = import_modules(self.box_dir)
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
