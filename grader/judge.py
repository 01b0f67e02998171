"""Turn what a child left behind into verdicts, comparing with the expected outputs here.

Everything read from the child's output directory is untrusted: the status file
is validated by pydantic under a size cap, arrays are loaded with
``allow_pickle=False`` after checking their unpacked size.
"""
from __future__ import annotations

import signal
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from grader.report_model import CaseResult, Verdict
from grader.sandbox import ChildRun
from grader.sandbox_child import CPU_LIMIT_EXIT_CODE, case_output_name
from grader.untrusted_files import UnreadableOutput, open_regular, read_regular
from reference import common
from reference.common import Case, Section

MAX_STATUS_BYTES = 1 << 20
MAX_OUTPUT_BYTES = 256 << 20
MISSING_ATTRIBUTE = "module 'solution' has no attribute"


class ChildCase(BaseModel):
    name: str
    visibility: str
    status: Literal["running", "ran", "exception"]
    error: str = ""
    error_type: str = ""
    memory_error: bool = False
    not_arrays: dict[str, str] = {}
    seconds: float | None = None
    train_seconds: float | None = None


class ChildStatus(BaseModel):
    import_error: str | None = None
    cases: list[ChildCase] = []
    finished: bool = False


def read_status(out_dir: Path) -> ChildStatus | None:
    """The child's status file, or None when it wrote none."""
    data = read_regular(out_dir.parent, [out_dir.name, "status.json"], MAX_STATUS_BYTES)
    if data is None:
        return None
    try:
        return ChildStatus.model_validate_json(data)
    except ValidationError as error:
        raise UnreadableOutput(f"malformed status file: {error.error_count()} problems") from None


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Load an ``.npz`` written by the child: no pickle, bounded unpacked size."""
    try:
        with open_regular(path.parent.parent, [path.parent.name, path.name],
                          MAX_OUTPUT_BYTES) as stream:
            with zipfile.ZipFile(stream) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_OUTPUT_BYTES:
                raise UnreadableOutput(f"{path.name} unpacks to {unpacked} bytes")
            stream.seek(0)
            with np.load(stream, allow_pickle=False) as arrays:
                return {key: arrays[key] for key in arrays.files}
    except UnreadableOutput:
        raise
    except FileNotFoundError:
        raise UnreadableOutput(f"{path.name} is missing") from None
    except Exception as error:  # any malformed file, a pickle included
        raise UnreadableOutput(f"{path.name}: {type(error).__name__}: {error}") from None


def process_end_verdict(run: ChildRun, limit_seconds: float, where: str) -> tuple[Verdict, str]:
    """Explain why the child stopped before finishing ``where``."""
    if run.timed_out:
        return Verdict.timeout, (f"time limit of {limit_seconds:g} s exceeded {where} "
                                 f"(stopped after {run.seconds:.1f} s)")
    number = run.signal_number
    if run.returncode == CPU_LIMIT_EXIT_CODE:
        return Verdict.cpu_limit, f"CPU time limit exceeded {where}"
    if number is not None:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        hint = " (this is how the memory or process limit may end a run)" if number == signal.SIGKILL else ""
        return Verdict.killed, f"killed by signal {name} {where}{hint}"
    return Verdict.exited, (f"the process exited with code {run.returncode} {where}: "
                            "sys.exit() or os._exit() in the submission?")


def exception_verdict(case: ChildCase) -> Verdict:
    if case.memory_error:
        return Verdict.memory_limit
    if case.error_type == "AttributeError" and MISSING_ATTRIBUTE in case.error:
        return Verdict.missing
    return Verdict.exception


def judge_case(case: Case, record: ChildCase, out_dir: Path, expected_dir: Path,
               section: Section) -> CaseResult:
    """Compare the outputs of a case the child ran with the expected outputs."""
    visibility = record.visibility
    result = dict(name=case.name, visibility=visibility, seconds=record.seconds)
    if record.status == "exception":
        return CaseResult(**result, verdict=exception_verdict(record),
                          message=common.case_failure_text(case, [record.error]))
    try:
        actual: dict = read_arrays(out_dir / case_output_name(visibility, case.name))
    except UnreadableOutput as error:
        return CaseResult(**result, verdict=Verdict.unreadable,
                          message=f"case {case.name}: output unreadable: {error}")
    expected = common.load_expected(expected_dir, section, case)
    problems = [common.not_an_array_problem(name, text) for name, text in record.not_arrays.items()]
    comparable = {name: value for name, value in expected.items() if name not in record.not_arrays}
    problems += common.compare_outputs(case, actual, comparable, reveal=visibility == "public")
    if problems:
        return CaseResult(**result, verdict=Verdict.wrong_answer,
                          message=common.case_failure_text(case, problems))
    return CaseResult(**result, verdict=Verdict.passed)

