"""Verdicts from what a box reported, compared here with the expected outputs it never saw.

Everything from the box is untrusted: case frames were checked field by field
by the protocol; output arrays are loaded from the frame's ``.npz`` payload
with ``allow_pickle=False``, after checking the unpacked size, and only plain
numeric arrays are accepted (no object, string or structured dtypes).
"""
from __future__ import annotations

import io
import signal
import zipfile
from collections.abc import Callable

import numpy as np

from grader.boxes.protocol import CaseFrame, RunEnded
from grader.boxes.session import BoxFailure, BoxOutcome, RunOutcome
from grader.reports.model import CaseResult, Verdict
from grader.sections.diagnosis import diagnose, diagnose_exception
from reference import common
from reference.common import Case, Section

MAX_UNPACKED_BYTES = 256 << 20
MISSING_ATTRIBUTE = "module 'solution' has no attribute"
NUMERIC_KINDS = "biuf"


class UnreadableOutput(Exception):
    """Outputs that are not what the protocol says (the message says why)."""


def read_arrays(payload: bytes) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` payload: no pickle, bounded size, plain numbers only."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_UNPACKED_BYTES:
            raise UnreadableOutput(f"the outputs unpack to {unpacked} bytes")
        with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except UnreadableOutput:
        raise
    except Exception as error:  # any malformed archive, a pickle included
        raise UnreadableOutput(f"{type(error).__name__}: {error}") from None
    for name, array in arrays.items():
        if array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
            raise UnreadableOutput(f"`{name}` has dtype {array.dtype}, not plain numbers")
    return arrays


def run_end_verdict(ended: RunEnded, cpu_limit: int, memory_mb: int, oom_kills: int,
                    where: str) -> tuple[Verdict, str]:
    """Why a run's child stopped before finishing ``where`` (``oom_kills``: during the run)."""
    if oom_kills:
        return Verdict.memory_limit, (f"the box's memory limit was reached {where}: the kernel "
                                      f"killed {oom_kills} of its processes (limit {memory_mb} MB)")
    if ended.timed_out:
        return Verdict.timeout, (f"time limit exceeded {where} (stopped after "
                                 f"{ended.seconds:.1f} s)")
    if ended.idle is not None:
        return Verdict.idle, (f"stopped {where} after {ended.seconds:.0f} s: it used "
                              f"{ended.idle.cpu_seconds:.2f} CPU s in the last "
                              f"{ended.idle.window_seconds:.0f} s (sleeping, or waiting for "
                              "input, a lock or a child process?); the run must keep computing")
    if ended.signal == signal.SIGXCPU or (ended.signal == signal.SIGKILL
                                         and ended.cpu_seconds >= cpu_limit):
        return Verdict.cpu_limit, f"CPU time limit of {cpu_limit} s exceeded {where}"
    if ended.signal is not None:
        try:
            name = signal.Signals(ended.signal).name
        except ValueError:
            name = str(ended.signal)
        return Verdict.killed, f"killed by signal {name} {where}"
    if ended.rejected:
        return Verdict.unreadable, f"outputs unreadable {where}: {ended.rejected}"
    if ended.returncode:
        return Verdict.exited, (f"the process exited with code {ended.returncode} {where}: "
                                "sys.exit() or os._exit() in the submission?")
    return Verdict.exited, f"the process ended {where} without reporting it"


def box_failure_verdict(failure: BoxFailure, outcome: BoxOutcome, where: str
                        ) -> tuple[Verdict, str]:
    """A box that did not get to the end: late, dead or unreadable."""
    if failure.run is not None and outcome.runs[failure.run].oom_kills:
        return Verdict.memory_limit, f"the box's memory limit was reached ({where})"
    if failure.kind == "timeout":
        return Verdict.timeout, f"{failure.message} ({where})"
    if failure.kind == "protocol":
        return Verdict.unreadable, f"{failure.message} ({where})"
    code = outcome.exit.returncode
    if outcome.exit.oom_kills:
        return Verdict.memory_limit, f"the box was killed by the kernel's memory limit {where}"
    if code is not None and code < 0:
        return Verdict.killed, f"the box was killed by signal {-code} {where}"
    return Verdict.exited, (f"the box exited with code {code} {where}: sys.exit() or os._exit() "
                            "in the submission?")


def exception_verdict(frame: CaseFrame) -> Verdict:
    if frame.memory_error:
        return Verdict.memory_limit
    if frame.error_type == "AttributeError" and MISSING_ATTRIBUTE in frame.error:
        return Verdict.missing
    return Verdict.exception


def _with_hints(problems: list[str], hints: list[str]) -> list[str]:
    return problems + [f"hint: {hint}" for hint in hints]


def judge_case(case: Case, visibility: str, frame: CaseFrame, payload: bytes,
               expected: dict[str, np.ndarray],
               inputs: Callable[[], dict[str, np.ndarray]]) -> CaseResult:
    """Compare one case's outputs with the expected ones (values shown for public cases only);
    a failure gets the hints ``grader.sections.diagnosis`` finds (``inputs`` loads the case's inputs)."""
    result = dict(name=case.name, visibility=visibility, seconds=frame.seconds)
    if frame.raised:
        problems = _with_hints([frame.error], diagnose_exception(case, inputs(), frame.error_type,
                                                                 frame.error))
        return CaseResult(**result, verdict=exception_verdict(frame),
                          message=common.case_failure_text(case, problems))
    try:
        actual: dict = read_arrays(payload)
    except UnreadableOutput as error:
        return CaseResult(**result, verdict=Verdict.unreadable,
                          message=f"case {case.name}: outputs unreadable: {error}")
    problems = {name: common.not_an_array_problem(name, text, expected[name])
                for name, text in frame.not_arrays.items() if name in expected}
    comparable = {name: value for name, value in expected.items() if name not in frame.not_arrays}
    problems.update(common.compare_outputs(case, actual, comparable,
                                           reveal=visibility == "public"))
    if problems:
        hints = diagnose(case, inputs(), expected, actual, set(problems))
        return CaseResult(**result, verdict=Verdict.wrong_answer,
                          message=common.case_failure_text(case, _with_hints(
                              list(problems.values()), hints)))
    return CaseResult(**result, verdict=Verdict.passed)


def judge_unit_run(section: Section, run: RunOutcome, cases: list[Case],
                   outcome: BoxOutcome | None, expected: dict[str, dict[str, np.ndarray]],
                   inputs: Callable[[Case], dict[str, np.ndarray]], cpu_limit: int,
                   memory_mb: int) -> list[CaseResult]:
    """Every case of one run: judged from its frame, or explained by how the run ended (or,
    when it did not, by the box's ``outcome``: None only for a run that ended)."""
    visibility = run.spec.visibility
    results, stopped = [], None
    for case in cases:
        entry = dict(name=case.name, visibility=visibility)
        if stopped is not None:
            results.append(CaseResult(**entry, verdict=Verdict.not_run, message=stopped))
        elif case.name in run.cases:
            frame, payload = run.cases[case.name]
            results.append(judge_case(case, visibility, frame, payload, expected[case.name],
                                      lambda case=case: inputs(case)))
        else:
            where = f"in case {case.name}"
            if run.ended is not None:
                verdict, message = run_end_verdict(run.ended, cpu_limit, memory_mb,
                                                   run.oom_kills, where)
            elif outcome is None:  # only runs that ended are judged without it
                raise ValueError("a run that did not end is judged with the box's outcome")
            elif outcome.failure is not None and run.started:
                verdict, message = box_failure_verdict(outcome.failure, outcome, where)
            else:
                reason = outcome.failure.message if outcome.failure else "the box ended first"
                verdict, message = Verdict.not_run, f"not run: {reason}"
            results.append(CaseResult(**entry, verdict=verdict,
                                      message=f"case {case.name} ({case.description}): {message}"))
            stopped = "not run: an earlier case stopped the section"
    return results
