"""Drive one box from the host: send the bundle, read the frames, bound every wait.

Whatever the box does, ``run_box`` returns a ``BoxOutcome`` within its
deadlines: the box is killed when it is late (no hello, an import past the
import time limit, a run past its timeout plus a margin, the box's total time),
when it breaks the protocol, or when its output grows past the caps. Nothing
it sends is trusted: frames are checked field by field, payloads stay bytes
until the judge reads them without pickle.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from grader.boxes import protocol
from grader.boxes.base import STDOUT, BoxExit, BoxLimits, RunningBox
from grader.boxes.protocol import (
    BoxRequest,
    CaseFrame,
    Done,
    Hello,
    Imported,
    NeedInputs,
    Progress,
    ProtocolError,
    RunEnded,
    RunSpec,
    RunStarted,
)

STDERR_TAIL_BYTES = 64 << 10
FINISH_SECONDS = 10.0
CPU_CHECK_SECONDS = 0.5


@dataclass
class Deadlines:
    """How long the host waits for each step of a box."""

    startup_seconds: float = 120.0      # start to hello: the interpreter and numpy, under load
    import_seconds: float = 10.0        # hello to imported: the submission's import
    run_margin_seconds: float = 10.0    # past a run's own timeout (the supervisor enforces that)
    total_seconds: float | None = None  # start to done, whatever happens (a wall-clock guard)
    cpu_seconds: float | None = None    # CPU time of the whole box (a calibrated budget)


@dataclass
class BoxInput:
    """All a box is given: the request, limits and files first, the later files (the hidden
    inputs) only when it asks, after its public runs: nothing a public run shows can hold
    them."""

    request: BoxRequest
    limits: BoxLimits
    files: dict[str, bytes]
    later_files: dict[str, dict[str, bytes]]
    deadlines: Deadlines


@dataclass(frozen=True)
class ProgressEvent:
    """Where a long run is, about every second (runs that ask for progress: training)."""

    section: str
    seconds: float                 # wall clock since the box started
    cpu_seconds: float | None      # CPU time of the whole box, when the kernel tells it
    cpu_budget: float | None
    wall_limit: float | None
    last_line: str                 # the last line the submission printed


ProgressCallback = Callable[[ProgressEvent], None]
RunsCallback = Callable[[list["RunOutcome"]], None]


@dataclass
class RunOutcome:
    spec: RunSpec
    started: bool = False
    ended: RunEnded | None = None
    cases: dict[str, tuple[CaseFrame, bytes]] = field(default_factory=dict)
    oom_kills: int = 0  # processes the kernel killed for the box's memory during this run


@dataclass
class BoxFailure:
    """The box did not get to the end on its own."""

    kind: str        # "timeout", "ended" (it died), "protocol" or "stopped"
    phase: str       # "startup", "import", "run" or "end"
    message: str
    run: int | None = None
    measure: str = "wall"  # for a timeout: "wall" clock or "cpu" time


@dataclass
class BoxOutcome:
    runs: list[RunOutcome]
    exit: BoxExit
    resources: str
    seconds: float                      # wall clock, start to the end of the box
    hello: Hello | None = None
    imported: Imported | None = None
    failure: BoxFailure | None = None
    stderr_tail: str = ""
    allowed_packages: tuple[str, ...] = ()  # what solution.py may import besides numpy


class _Session:
    def __init__(self, request: BoxRequest, deadlines: Deadlines, running: RunningBox,
                 on_progress: ProgressCallback | None, later_files: dict[str, dict[str, bytes]]):
        self.deadlines, self.on_progress, self.later_files = deadlines, on_progress, later_files
        self.last_line, self.next_tick = "", 0.0
        self.running, self.oom_kills = running, 0
        self.runs = [RunOutcome(spec) for spec in request.runs]
        self.reader = protocol.FrameReader(protocol.MAX_CASE_PAYLOAD_BYTES)
        self.started = running.started
        self.deadline = self.started + deadlines.startup_seconds
        self.phase, self.current = "startup", None
        self.hello = self.imported = self.failure = None
        self.payload_bytes = 0
        self.done = False
        self.next_cpu_check = 0.0
        self.stderr = bytearray()

    def fail(self, kind: str, message: str, measure: str = "wall") -> None:
        if self.failure is None:
            self.failure = BoxFailure(kind, self.phase, message, self.current, measure)

    def over_cpu_budget(self) -> bool:
        """Whether the box has used its CPU budget (read from its cgroup, twice a second)."""
        budget = self.deadlines.cpu_seconds
        if budget is None or time.monotonic() < self.next_cpu_check:
            return False
        self.next_cpu_check = time.monotonic() + CPU_CHECK_SECONDS
        used = self.running.cpu_seconds()
        if used is None or used <= budget:
            return False
        self.fail("timeout", f"the box's CPU time budget of {budget:.0f} s was used "
                             f"({used:.0f} CPU s)", measure="cpu")
        return True

    def expect(self, phase: str, seconds: float) -> None:
        self.phase, self.deadline = phase, time.monotonic() + seconds

    def handle(self, frame, payload: bytes) -> None:
        margin = self.deadlines.run_margin_seconds
        if isinstance(frame, Hello) and self.hello is None:
            self.hello = frame
            self.expect("import", self.deadlines.import_seconds)
        elif isinstance(frame, Imported) and self.hello is not None and self.imported is None:
            self.imported = frame
            self.expect("end", margin)
        elif isinstance(frame, RunStarted) and self.imported and 0 <= frame.run < len(self.runs):
            self.current = frame.run
            self.runs[frame.run].started = True
            self.expect("run", self.runs[frame.run].spec.timeout_seconds + margin)
        elif isinstance(frame, NeedInputs) and self.current is None and \
                frame.visibility in self.later_files:
            self.running.send_later(frame.visibility, self.later_files.pop(frame.visibility))
        elif isinstance(frame, CaseFrame) and self.current == frame.run:
            self.payload_bytes += len(payload)
            if self.payload_bytes > protocol.MAX_BOX_PAYLOAD_BYTES:
                raise ProtocolError(f"the outputs are larger than {protocol.MAX_BOX_PAYLOAD_BYTES} "
                                    "bytes")
            self.runs[frame.run].cases.setdefault(frame.name, (frame, payload))
        elif isinstance(frame, Progress) and self.current == frame.run:
            self.last_line = frame.last_line
        elif isinstance(frame, RunEnded) and self.current == frame.run:
            self.runs[frame.run].ended = frame
            self.runs[frame.run].oom_kills = self.count_oom_kills()
            self.current = None
            self.expect("end", margin)
        elif isinstance(frame, Done) and self.current is None:
            self.done = True
        else:
            raise ProtocolError(f"unexpected '{frame.kind}' frame while waiting for the "
                                f"{self.phase}")

    def tick(self) -> None:
        """Tell ``on_progress`` where a run that asks for progress is, once a second."""
        if self.on_progress is None or self.current is None or time.monotonic() < self.next_tick:
            return
        spec = self.runs[self.current].spec
        if not spec.progress_seconds:
            return
        self.next_tick = time.monotonic() + 1.0
        self.on_progress(ProgressEvent(
            section=spec.section, seconds=round(time.monotonic() - self.started, 1),
            cpu_seconds=self.running.cpu_seconds(), cpu_budget=self.deadlines.cpu_seconds,
            wall_limit=self.deadlines.total_seconds, last_line=self.last_line))

    def count_oom_kills(self) -> int:
        """OOM kills since the last count: the run that just ended caused them."""
        total = self.running.oom_kills()
        new, self.oom_kills = total - self.oom_kills, total
        return new

    def limit(self) -> float:
        deadline = self.deadline
        if self.deadlines.total_seconds is not None:
            deadline = min(deadline, self.started + self.deadlines.total_seconds)
        return deadline

    def late(self) -> str:
        if self.deadlines.total_seconds is not None and \
                time.monotonic() >= self.started + self.deadlines.total_seconds:
            return f"the box's time limit of {self.deadlines.total_seconds:g} s was reached"
        return {"startup": f"the box did not start within {self.deadlines.startup_seconds:g} s",
                "import": f"importing solution.py took longer than the import time limit of "
                          f"{self.deadlines.import_seconds:g} s",
                "run": "the run did not end within its time limit (the box was killed)",
                "end": "the box stopped answering"}[self.phase]


def run_box(running: RunningBox, given: BoxInput, on_progress: ProgressCallback | None = None,
            stop: threading.Event | None = None,
            on_run_ended: RunsCallback | None = None) -> BoxOutcome:
    """Put the limits in force in a started box, feed it, and follow it to its end; never
    raises for anything the box does. Deadlines count from the box's start. The later files
    (by visibility) go only when the box asks, after its public runs. ``stop``, once set,
    kills the box within a quarter of a second (failure kind "stopped"). ``on_run_ended``
    gets the runs each time one has ended, solution.py having been imported."""
    running.feed(given.request, given.limits, given.files)
    session = _Session(given.request, given.deadlines, running, on_progress,
                       dict(given.later_files))
    stdout_open = True
    try:
        while not session.done and stdout_open:
            now = time.monotonic()
            if now >= session.limit():
                session.fail("timeout", session.late())
                break
            if session.over_cpu_budget():
                break
            if stop is not None and stop.is_set():
                session.fail("stopped", "grading was stopped from outside")
                break
            session.tick()
            for stream, chunk in running.read(min(session.limit() - now, 0.25)):
                if stream != STDOUT:
                    session.stderr += chunk
                    del session.stderr[:-STDERR_TAIL_BYTES]
                elif not chunk:
                    stdout_open = False
                else:
                    for frame, payload in session.reader.feed(chunk):
                        session.handle(frame, payload)
                        if isinstance(frame, RunEnded) and on_run_ended is not None and \
                                session.imported.ok:  # a run starts only once imported
                            on_run_ended(session.runs)
        if not session.done and stdout_open is False and session.failure is None:
            session.fail("ended", "the box ended before reporting everything")
    except ProtocolError as error:
        session.fail("protocol", f"the box's output is not readable: {error}")
    finally:
        if not session.done:
            running.kill()
        if session.current is not None:  # the run the box was stopped in
            session.runs[session.current].oom_kills = session.count_oom_kills()
        box_exit = running.finish(FINISH_SECONDS if session.done else 0.0)
    return BoxOutcome(runs=session.runs, exit=box_exit, resources=running.resources,
                      seconds=round(time.monotonic() - session.started, 3),
                      hello=session.hello, imported=session.imported, failure=session.failure,
                      stderr_tail=session.stderr.decode("utf-8", errors="replace"))
