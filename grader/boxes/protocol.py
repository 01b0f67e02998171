"""The whole contract between the grading host and a box: names, exit codes, typed spec, frames.

Standard library only: the same file runs on the host and, shipped in the
bundle, inside the box (like isolate's meta file, it is all the two share).

- Host -> box, on the box's stdin: one *bundle* (``encode_bundle``): the
  supervisor's runtime files, ``request.json`` (a ``BoxRequest``), the
  student's ``solution.py`` and the public case inputs. The hidden inputs come
  in a second bundle, sent only when the box asks for them (``NeedInputs``)
  after its last public run has ended: nothing a public run saw or said can
  hold hidden data, so public messages may be shown to students. stdin stays
  open: its end means the host is gone, and the box kills everything and exits.
- Box -> host, on the box's stdout: *frames* (``encode_frame``), each a
  header line ``<header bytes> <payload bytes>``, a JSON header and a binary
  payload (an ``.npz`` of outputs, never a pickle).
- The box's stderr is free text: what the submission printed while it was
  imported, or the supervisor's own crash. The host keeps a tail of it.

Inside the box the supervisor runs each *run* (one section's public or hidden
cases) in a child process, whose code is the run's entry point (``RunSpec.entry``,
a function of a runtime module the host shipped in the bundle); the child sends
``CaseFrame``s to the supervisor in the same frame format, and the supervisor
forwards only what it validated. The box knows no section: what a run does, the
data files it reads (by role, mounted read-only) and its limits all come from
the request.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

BUNDLE_MAGIC = b"NNBOX1"
BOX_DIR = "/tmp/box"             # where the bootstrap unpacks the bundle (in the scratch tmpfs)
RUNTIME_SUBDIR = "runtime"       # supervisor, protocol and the course framework: on sys.path
WORK_SUBDIR = "work"             # beside the box directory: the submission's working directories
INPUTS_SUBDIR = "inputs"         # <visibility>/<NN_unittest_section_input>/...
SOLUTION_FILE = "solution.py"
REQUEST_FILE = "request.json"

MAX_HEADER_BYTES = 256 << 10     # one frame's JSON header
MAX_TEXT_CHARS = 16_000          # any text field of a frame (tracebacks, output tails)
MAX_CASE_PAYLOAD_BYTES = 64 << 20
MAX_RUN_PAYLOAD_BYTES = 128 << 20
MAX_BOX_PAYLOAD_BYTES = 256 << 20

EXIT_OK = 0          # every run was reported
EXIT_CRASH = 70      # the supervisor itself failed (its traceback is on stderr)
EXIT_BAD_BUNDLE = 71
EXIT_HOST_GONE = 72  # stdin closed before the end: the grader died



class ProtocolError(ValueError):
    """Bytes that do not follow the protocol (from a box or a child: never trusted)."""


# ----------------------------------------------------------------- the request
@dataclass
class RunSpec:
    """One child process of the supervisor: a section's cases of one visibility."""

    section: str
    entry: str                   # "module:function" of the runtime: the child's code
    visibility: str              # public or hidden
    input_dir: str = ""          # the run's input folder, relative to inputs/<visibility>
    timeout_seconds: float = 30.0
    cpu_seconds: int = 30
    memory_mb: int = 1024
    max_processes: int = 32
    max_file_size_mb: int = 16
    max_output_kb: int = 64
    progress_seconds: float = 0.0  # > 0: report the last output line that often
    idle_seconds: float = 0.0    # > 0: stop the run once idle for that long: its processes
    idle_cpu_share: float = 0.0  # used less than this share of one core over the window


@dataclass
class BoxRequest:
    """What the supervisor is asked to do; written by the host, read in the box."""

    runs: list[RunSpec]
    import_timeout_seconds: float = 10.0
    drop_to_uid: int | None = None  # started as root in the box: become this uid first
    kill_all_between_runs: bool = True  # kill(-1) is safe: PID 1 of a namespace, or a uid of our own
    memory_mb: int = 0             # RLIMIT_AS of the supervisor (0: none)
    data: dict[str, str] = field(default_factory=dict)  # read-only data files: role -> path


# ----------------------------------------------------------------- the frames
@dataclass
class Hello:
    kind: ClassVar[str] = "hello"
    pid: int
    uid: int
    python: str
    numpy: str


@dataclass
class Imported:
    """solution.py was imported (``ok``) or raised; ``error`` is its trimmed traceback."""

    kind: ClassVar[str] = "imported"
    ok: bool
    seconds: float
    error: str = ""
    error_type: str = ""


@dataclass
class RunStarted:
    kind: ClassVar[str] = "run_started"
    run: int


@dataclass
class CaseFrame:
    """One case's outcome; the payload holds its output arrays as an ``.npz``."""

    kind: ClassVar[str] = "case"
    name: str
    raised: bool                 # the case's code raised: ``error`` says what, no payload
    run: int = -1                # set by the supervisor, whatever the child said
    error: str = ""
    error_type: str = ""
    memory_error: bool = False
    not_arrays: dict[str, str] = field(default_factory=dict)  # quantity -> what came instead
    seconds: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)  # what the run's code measured


@dataclass
class NeedInputs:
    """The box has run every public run and waits for the bundle of ``visibility`` inputs."""

    kind: ClassVar[str] = "need_inputs"
    visibility: str


@dataclass
class Progress:
    kind: ClassVar[str] = "progress"
    run: int
    seconds: float
    last_line: str


@dataclass
class IdleStop:
    """Why the supervisor stopped a run as idle: the CPU time its processes used in the last
    ``window_seconds`` (at least the spec's ``idle_seconds``) was below its idle threshold."""

    window_seconds: float
    cpu_seconds: float


@dataclass
class RunEnded:
    """How a run's child ended, as the supervisor saw it (it then killed what was left)."""

    kind: ClassVar[str] = "run_ended"
    run: int
    returncode: int | None       # the child's exit code, None when a signal ended it
    signal: int | None
    timed_out: bool
    seconds: float
    cpu_seconds: float           # every process of the run, as the kernel counted them
    output_tail: str = ""
    output_truncated: bool = False
    rejected: str = ""           # why some of the child's frames were not forwarded
    idle: IdleStop | None = None  # set when the supervisor stopped the run as idle


@dataclass
class Done:
    kind: ClassVar[str] = "done"
    seconds: float


FRAMES: dict[str, type] = {frame.kind: frame for frame in (Hello, Imported, RunStarted, CaseFrame,
                                                           NeedInputs, Progress, RunEnded, Done)}


# ----------------------------------------------------------- typed decoding
def _check(value: Any, annotation: Any, where: str) -> Any:
    """``value`` if it has the type ``annotation`` (the simple types used here), else an error."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            try:
                return _check(value, option, where)
            except ProtocolError:
                continue
        raise ProtocolError(f"{where}: unexpected {type(value).__name__}")
    if annotation is type(None):
        if value is None:
            return None
        raise ProtocolError(f"{where}: expected null")
    if origin is list:
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list")
        (item,) = typing.get_args(annotation)
        return [_check(element, item, where) for element in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object")
        key_type, item = typing.get_args(annotation)
        return {_check(k, key_type, where): _check(v, item, where) for k, v in value.items()}
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float) and isinstance(value, bool):
        raise ProtocolError(f"{where}: expected a number")
    if not isinstance(value, annotation):
        raise ProtocolError(f"{where}: expected {annotation.__name__}, got {type(value).__name__}")
    return value


@functools.cache
def _fields(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """The field types and names of a dataclass (resolving the hints costs more than a frame)."""
    return typing.get_type_hints(cls), frozenset(f.name for f in dataclasses.fields(cls))


def from_dict(cls: type, data: Any) -> Any:
    """A ``cls`` dataclass from JSON data, every field checked; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{cls.__name__}: expected an object")
    hints, names = _fields(cls)
    unknown = set(data) - names - {"kind"}
    if unknown:
        raise ProtocolError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    values = {name: _check(data[name], hints[name], f"{cls.__name__}.{name}")
              for name in names if name in data}
    try:
        return cls(**values)
    except TypeError as error:  # a required field is missing
        raise ProtocolError(f"{cls.__name__}: {error}") from None


def to_dict(instance: Any) -> dict:
    data = dataclasses.asdict(instance)
    kind = getattr(type(instance), "kind", None)
    return {"kind": kind, **data} if kind else data


# ----------------------------------------------------------------- frames
def encode_frame(frame: Any, payload: bytes = b"") -> bytes:
    header = json.dumps(to_dict(frame), ensure_ascii=True).encode()
    return b"%d %d\n" % (len(header), len(payload)) + header + payload


class FrameReader:
    """Cuts a byte stream into frames; every size is bounded before anything is kept."""

    def __init__(self, max_payload: int = MAX_CASE_PAYLOAD_BYTES,
                 kinds: dict[str, type] | None = None, others_skipped: bool = False):
        """Frames of ``kinds`` (every kind by default); another kind is an error, or with
        ``others_skipped`` passed over unchecked (a reader that looks for one kind only)."""
        self.buffer = bytearray()
        self.max_payload = max_payload
        self.kinds, self.others_skipped = kinds or FRAMES, others_skipped

    def feed(self, data: bytes) -> list[tuple[Any, bytes]]:
        """Frames completed by ``data``; raises ``ProtocolError`` on anything malformed."""
        self.buffer += data
        frames = []
        while True:
            newline = self.buffer.find(b"\n", 0, 48)
            if newline < 0:
                if len(self.buffer) >= 48:
                    raise ProtocolError("a frame does not start with its sizes")
                return frames
            try:
                header_size, payload_size = (int(part) for part in self.buffer[:newline].split(b" "))
            except ValueError:
                raise ProtocolError("a frame does not start with its sizes") from None
            if not 0 < header_size <= MAX_HEADER_BYTES or not 0 <= payload_size <= self.max_payload:
                raise ProtocolError(f"a frame is too large ({header_size} + {payload_size} bytes)")
            end = newline + 1 + header_size + payload_size
            if len(self.buffer) < end:
                return frames
            header = bytes(self.buffer[newline + 1:newline + 1 + header_size])
            payload_start = newline + 1 + header_size
            kind, data = decode_header(header)
            if kind in self.kinds:
                frames.append((from_dict(self.kinds[kind], data),
                               bytes(self.buffer[payload_start:end])))
            elif not self.others_skipped:
                raise ProtocolError(f"unknown frame kind {str(kind)[:40]!r}")
            del self.buffer[:end]

    @property
    def pending(self) -> int:
        return len(self.buffer)


def decode_header(header: bytes) -> tuple[Any, Any]:
    """The kind of a frame header and its JSON data."""
    try:
        data = json.loads(header)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("a frame header is not JSON") from None
    return (data.get("kind") if isinstance(data, dict) else None), data


# ----------------------------------------------------------------- the bundle
def encode_bundle(files: dict[str, bytes]) -> bytes:
    """``files`` (relative path -> bytes) as one stream, unpacked in the box by
    ``grader/boxes/bootstrap.py``: a size line, then ``NNBOX1 <count>`` and per file
    ``<name bytes> <data bytes>``, the name and the data."""
    parts = [b"%s %d\n" % (BUNDLE_MAGIC, len(files))]
    for path, data in sorted(files.items()):
        name = path.encode()
        parts.append(b"%d %d\n" % (len(name), len(data)))
        parts += [name, data]
    body = b"".join(parts)
    return b"%d\n" % len(body) + body

