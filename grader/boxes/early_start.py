"""``grader grade`` starts its unit box before it loads, from the plan the last grading left.

Loading the command (typer, pydantic, numpy, rich) takes about as long as the
whole box needs, so ``grader grade SUBMISSION`` first starts the unit box, with
the standard library only, from a plan: what the unit box of the last grading
of the same test cases was given (its settings, its BPF program, its request
and limits, and the names of its input files: never their contents). The box
is fed the files as they are now, and a thread answers its request for the
hidden inputs (after its public runs, as always) while the command loads. The
grading then computes all of it again and uses the early box only if it was
started and fed exactly so; otherwise the box is killed unread and one is
started as usual. A plan can make a grading faster, never different: a
missing, outdated or altered one only costs the time it would have saved.
"""
from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import queue
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from grader.boxes import protocol
from grader.boxes.base import (
    STDOUT,
    Box,
    BoxExit,
    BoxLimits,
    BoxShape,
    RunningBox,
    queued_chunks,
    runtime_files,
    runtime_module,
)
from grader.files import write_atomically
from grader.given_code.check import fork_parser
from grader.options import GradingOptions, OptionsError, chosen_box, read_command_line
from grader.paths import DEFAULT_CASES_DIR
from grader.submission import read_submission

if TYPE_CHECKING:
    from grader.boxes.session import BoxInput
    from grader.config import GradingConfig

PLANS_VARIABLE = "GRADER_PLANS_DIR"
READ_SECONDS = 0.1
MAX_BUFFERED_BYTES = 1 << 20  # read ahead of the grading; beyond it the box waits


class WatchedBox(RunningBox):
    """A box whose output a thread reads from its start, answering its request for later
    inputs (the grading is still loading): the grading then reads all of it from here."""

    def __init__(self, inner: RunningBox, later: dict[str, dict[str, bytes]]):
        self.inner, self.later = inner, later
        self.shape, self.resources, self.started = inner.shape, inner.resources, inner.started
        self.chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.pumped = self.taken = 0  # bytes read from the box, bytes the grading took
        self.lock, self.stopped = threading.Lock(), threading.Event()
        self.pump = threading.Thread(target=self._pump, name="early-box", daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        reader = protocol.FrameReader(protocol.MAX_CASE_PAYLOAD_BYTES,
                                      {protocol.NeedInputs.kind: protocol.NeedInputs},
                                      others_skipped=True)  # the grading checks them all
        ended = 0
        try:
            while ended < 2 and not self.stopped.is_set():
                if self.pumped - self.taken > MAX_BUFFERED_BYTES:  # a flood not yet taken: the
                    time.sleep(READ_SECONDS / 10)  # box waits on its full pipe meanwhile
                    continue
                for stream, chunk in self.inner.read(READ_SECONDS):
                    self.pumped += len(chunk)
                    self.chunks.put((stream, chunk))
                    ended += not chunk
                    if stream == STDOUT and chunk and self.later:
                        self._answer(reader.feed(chunk))
        except (OSError, ValueError, protocol.ProtocolError):  # finished, or frames the
            pass                                                # grading will judge

    def _answer(self, frames: list) -> None:
        for frame, _ in frames:
            with self.lock:
                if self.later and frame.visibility in self.later:
                    self.inner.send_later(frame.visibility, self.later[frame.visibility])

    def fed_otherwise(self, request: protocol.BoxRequest, limits: BoxLimits,
                      files: dict[str, bytes], later_files: dict[str, dict[str, bytes]]) -> bool:
        """Also, when it was fed right, from now on answered with the grading's own files."""
        with self.lock:
            otherwise = self.inner.fed_otherwise(request, limits, files, later_files)
            self.later = {} if otherwise else later_files
            return otherwise

    @property
    def fed(self) -> dict[str, bytes] | None:
        return self.inner.fed

    @property
    def fed_limits(self) -> BoxLimits | None:
        return self.inner.fed_limits

    def complete(self, request: protocol.BoxRequest, limits: BoxLimits) -> protocol.BoxRequest:
        return self.inner.complete(request, limits)

    def feed(self, request: protocol.BoxRequest, limits: BoxLimits,
             files: dict[str, bytes]) -> None:
        self.inner.feed(request, limits, files)

    def send_later(self, visibility: str, files: dict[str, bytes]) -> None:
        with self.lock:
            self.inner.send_later(visibility, files)

    def send(self, data: bytes) -> None:
        self.inner.send(data)

    def read(self, timeout: float) -> list[tuple[str, bytes]]:
        chunks = queued_chunks(self.chunks, timeout)
        self.taken += sum(len(chunk) for _, chunk in chunks)
        return chunks

    def kill(self) -> None:
        self.inner.kill()

    def oom_kills(self) -> int:
        return self.inner.oom_kills()

    def cpu_seconds(self) -> float | None:
        return self.inner.cpu_seconds()

    def finish(self, timeout: float) -> BoxExit:
        self.stopped.set()  # the pump ends with the box's streams, or within READ_SECONDS
        self.pump.join()
        return self.inner.finish(timeout)


@dataclass
class EarlyBox:
    """A unit box started and fed before the grading began, and the uid slot it holds."""

    submission: Path
    cases_dir: Path
    running: WatchedBox
    seccomp: bytes
    uids: tuple[int, int]  # the range its uid was taken from: base, count
    uid_slot: contextlib.ExitStack

    def discard(self) -> None:
        self.running.discard()
        self.uid_slot.close()

    @contextlib.contextmanager
    def holding_uid(self) -> Iterator[int | None]:
        """The grading's uid: the one this box was started with, held until the end."""
        with self.uid_slot:
            yield self.running.shape.uid

    def take(self, shape: BoxShape) -> RunningBox | None:
        """The box, when it has the grading's spare ``shape``; else it is killed."""
        if self.running.shape == shape:
            return self.running
        self.running.discard()
        return None


_started: EarlyBox | None = None


def plans_dir() -> Path:
    """``$GRADER_PLANS_DIR``, else ``~/.cache/nn-grader/plans``."""
    configured = os.environ.get(PLANS_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "nn-grader" / "plans"


def plan_file(cases_dir: Path) -> Path:
    resolved = str(Path(cases_dir).resolve())
    return plans_dir() / f"{Path(resolved).name}-{zlib.crc32(resolved.encode()):08x}.json"


def _case_names(files: dict[str, bytes]) -> list[str]:
    """Input files by path in the box (``inputs/<visibility>/...``: as in the case folder)."""
    return sorted(name for name in files if name.startswith(f"{protocol.INPUTS_SUBDIR}/"))


def _case_files(cases_dir: Path, names: list[str], visibility: str,
                request: protocol.BoxRequest) -> dict[str, bytes]:
    """The ``visibility`` inputs ``names`` from the case folders: files of the input folders
    the ``visibility`` runs of ``request`` read, whatever else the plan says (an expected
    output never enters a box, hidden inputs never come with the public ones)."""
    folders = {spec.input_dir for spec in request.runs if spec.visibility == visibility and
               spec.input_dir not in ("", ".", "..") and "/" not in spec.input_dir}
    files = {}
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) != 4 or parts[0] != protocol.INPUTS_SUBDIR or \
                parts[1] != visibility or parts[2] not in folders or parts[3] in ("..", "."):
            raise ValueError(f"{name!r} is not a case input")
        files[name] = cases_dir.joinpath(*parts[1:]).read_bytes()
    return files


def remember(cases_dir: Path, config: GradingConfig, box: Box, given: BoxInput) -> None:
    """Keep what the spare box of this grading was given, for the next ``grader grade``
    (bubblewrap boxes only; written only when it changed; never fails a grading)."""
    from grader.boxes.bwrap import BwrapBox
    from grader.boxes.interpreter import import_names

    if not isinstance(box, BwrapBox):
        return
    plan = {"scratch_mb": config.box.scratch_mb, "uid_base": config.box.uid_base,
            "uids": config.box.uids,
            "packages": {name: sorted(import_names(name)) for name in config.box.packages},
            "seccomp": base64.b64encode(box.seccomp).decode(),
            "request": protocol.to_dict(given.request),
            "limits": {"memory_mb": given.limits.memory_mb,
                       "max_processes": given.limits.max_processes},
            "inputs": _case_names(given.files),
            "later": {visibility: _case_names(files)
                      for visibility, files in given.later_files.items()}}
    text = json.dumps(plan, sort_keys=True)
    path = plan_file(cases_dir)
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return
        write_atomically(path, text)
    except OSError:  # a read-only home: gradings just start their box later
        pass


def grade_arguments(argv: list[str]) -> tuple[Path, Path] | None:
    """(submission, cases) of ``grade SUBMISSION [OPTIONS]`` graded in a bubblewrap box, read
    with the command's own declarations of its options (``grader.options``), else None (the
    grading checks that its options agree)."""
    read = read_command_line(argv[1:]) if argv[:1] == ["grade"] else None
    if read is None or len(read[0]) != 1:
        return None
    (submission,), values = read
    try:
        box = chosen_box(values.get("box"), values.get("backend"),
                         bool(values.get("no_sandbox")), values.get("image"))
    except OptionsError:
        return None
    return (Path(submission), Path(values.get("cases", DEFAULT_CASES_DIR))) \
        if box == "bwrap" else None


def start(argv: list[str]) -> None:
    """Start and feed the unit box of ``grader grade`` when there is a plan for its cases,
    after forking the given-code check's parser (``fork_parser``: before any thread). Never
    raises: without an early box the grading starts its box itself."""
    global _started
    arguments = grade_arguments(argv)
    if arguments is None:
        return
    submission, cases_dir = arguments
    slot = contextlib.ExitStack()
    try:
        source = read_submission(submission).source
        fork_parser(source.decode("utf-8", errors="replace"))  # before any thread is started
        plan = json.loads(plan_file(cases_dir).read_text(encoding="utf-8"))
        _started = _start_from(plan, source, submission, cases_dir, slot)
    except Exception:  # noqa: BLE001 - no plan, an outdated one, no box: the grading starts one
        slot.close()
    else:
        atexit.register(discard_unclaimed)
    finally:  # after the box is started: the check then takes no time from it
        threading.Thread(target=_check_box_kind, name="box-check", daemon=True).start()


def _check_box_kind() -> None:
    """Try bubblewrap and compile the filter while the grader loads (the grading waits for
    the answer, and checks the early box's filter against it)."""
    from grader.boxes.base import BoxUnavailable
    from grader.boxes.bwrap import checked_box

    with contextlib.suppress(BoxUnavailable):
        checked_box()


def _start_from(plan: dict, source: bytes, submission: Path, cases_dir: Path,
                slot: contextlib.ExitStack) -> EarlyBox:
    from grader.boxes.bwrap import BwrapBox
    from grader.boxes.interpreter import packages_named
    from grader.boxes.uid_slots import grading_uid

    packages = packages_named(source.decode("utf-8"), {
        name: frozenset(modules) for name, modules in plan["packages"].items()})
    box = BwrapBox(base64.b64decode(plan["seccomp"]))
    uid = slot.enter_context(grading_uid(plan["uid_base"], plan["uids"])) \
        if box.needs_uid() else None
    running = box.start(BoxShape(blas_threads=1, scratch_mb=plan["scratch_mb"], uid=uid,
                                 packages=packages))
    try:  # the box boots meanwhile: it reads its bundle once numpy is loaded
        request = protocol.from_dict(protocol.BoxRequest, plan["request"])
        modules = sorted({runtime_module(spec.entry.partition(":")[0]) for spec in request.runs})
        files = {**runtime_files(tuple(modules)), protocol.SOLUTION_FILE: source,
                 **_case_files(cases_dir, plan["inputs"], "public", request)}
        later = {visibility: _case_files(cases_dir, names, visibility, request)
                 for visibility, names in plan["later"].items()}
        running.feed(request, BoxLimits(**plan["limits"]), files)
    except BaseException:
        running.discard()
        raise
    return EarlyBox(submission.resolve(), cases_dir.resolve(), WatchedBox(running, later),
                    box.seccomp, (plan["uid_base"], plan["uids"]), slot)


def claim(submission: Path, options: GradingOptions, config: GradingConfig,
          box: Box) -> EarlyBox | None:
    """The early box, if it was started for this grading, in this kind of box, with uids of
    its range (the grading still checks its shape and what it was fed); an early box of
    another grading is discarded."""
    global _started
    early, _started = _started, None
    if early is None:
        return None
    if early.submission == Path(submission).resolve() and \
            early.cases_dir == Path(options.cases_dir).resolve() and box.name == "bwrap" and \
            getattr(box, "seccomp", None) == early.seccomp and \
            early.uids == (config.box.uid_base, config.box.uids):
        return early
    early.discard()
    return None


def discard_unclaimed() -> None:
    """At exit: a box no grading claimed (the command failed before it graded)."""
    global _started
    if _started is not None:
        _started.discard()
        _started = None
