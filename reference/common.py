"""Test cases of the assignment: where they live, how to run one, how to judge it.

Shared word for word by the students' ``run.py`` and the grader, so a student
sees locally exactly what the grader checks. Only the standard library and numpy
are used, and nothing here imports the student's code by itself: the caller
passes the imported ``solution`` module in. Execution (``execute_case``) and
judgement (``compare_outputs``) are separate so that the grader can run the
first in a sandbox that never sees the expected outputs.
"""
from __future__ import annotations

import importlib
import io
import json
import sys
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RTOL = 1e-5
ATOL = 1e-6
CASES_FILE = "cases.json"
MAX_SHOWN_MISMATCHES = 3


@dataclass(frozen=True)
class Section:
    """One graded section of the assignment, known by its name (never by its position).

    Declared in the grader's ``grading.toml``; ``grader generate`` writes the public part of
    every declaration (these fields) into ``sections.json`` beside the public cases."""

    name: str
    title: str
    points: float
    kind: str  # "unit": cases with expected outputs; "mnist": trained and scored
    folder: str = ""  # the course's folder of its cases, e.g. "00_unittest_relu" (fixed)
    graded_class: str = ""  # the class of solution.py students write for it, e.g. "ReLU"

    @classmethod
    def from_record(cls, record: dict) -> Section:
        record = dict(record)
        return cls(graded_class=record.pop("class", ""), **record)

    def to_record(self) -> dict:
        return {"name": self.name, "title": self.title, "points": self.points, "kind": self.kind,
                "folder": self.folder, "class": self.graded_class}


class CaseFileError(Exception):
    """The stored test cases are missing or malformed (not the student's fault)."""


SECTIONS_FILE = "sections.json"
HERE = Path(__file__).resolve().parent
# where the sections of ``SECTIONS`` are read: the cases beside this file, in the students'
# kit (tests/), else in the grader's checkout (test_cases/public/)
DEFAULT_CASES_DIRS = (HERE / "tests", HERE.parent / "test_cases" / "public")


def load_sections(cases_dir: Path) -> tuple[Section, ...]:
    """The sections of the cases in ``cases_dir`` (a ``public`` or ``hidden`` folder, or the
    kit's ``tests``), in report order."""
    path = Path(cases_dir) / SECTIONS_FILE
    try:
        records = json.loads(path.read_text(encoding="utf-8"))["sections"]
        return tuple(Section.from_record(record) for record in records)
    except FileNotFoundError:
        raise CaseFileError(f"{path} is missing: run `grader generate`") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CaseFileError(f"malformed section file {path}: {error}") from None


_DEFAULT_SECTIONS: dict[str, object] = {}


def __getattr__(name: str):
    """``SECTIONS``, ``SECTIONS_BY_NAME`` and ``UNIT_SECTIONS``: those of the default cases
    (``DEFAULT_CASES_DIRS``), read once, when first asked for."""
    if name not in ("SECTIONS", "SECTIONS_BY_NAME", "UNIT_SECTIONS"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _DEFAULT_SECTIONS:
        cases_dir = next((folder for folder in DEFAULT_CASES_DIRS
                          if (folder / SECTIONS_FILE).is_file()), DEFAULT_CASES_DIRS[0])
        sections = load_sections(cases_dir)
        _DEFAULT_SECTIONS.update(
            SECTIONS=sections, SECTIONS_BY_NAME={section.name: section for section in sections},
            UNIT_SECTIONS=tuple(section for section in sections if section.kind == "unit"))
    return _DEFAULT_SECTIONS[name]


def input_dir(cases_dir: Path, section: Section) -> Path:
    return Path(cases_dir) / f"{section.folder}_input"


def expected_dir(cases_dir: Path, section: Section) -> Path:
    return Path(cases_dir) / f"{section.folder}_gt"


@dataclass(frozen=True)
class Case:
    """One test case: what to call (``op`` and ``params``) on which stored inputs."""

    name: str
    section: str
    op: str
    description: str
    params: dict = field(default_factory=dict)
    rtol: float = RTOL
    atol: float = ATOL

    def to_json(self) -> dict:
        return {"name": self.name, "section": self.section, "op": self.op,
                "description": self.description, "params": self.params,
                "rtol": self.rtol, "atol": self.atol}


def load_cases(cases_dir: Path, section: Section) -> list[Case]:
    path = input_dir(cases_dir, section) / CASES_FILE
    try:
        records = json.loads(path.read_text(encoding="utf-8"))["cases"]
        return [Case(**record) for record in records]
    except FileNotFoundError:
        raise CaseFileError(f"no test cases for section '{section.name}': {path} is missing") from None
    except (ValueError, KeyError, TypeError) as error:
        raise CaseFileError(f"malformed test case file {path}: {error}") from None


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise CaseFileError(f"test case file {path} is missing") from None
    except (ValueError, OSError) as error:
        raise CaseFileError(f"unreadable test case file {path}: {error}") from None


def load_inputs(cases_dir: Path, section: Section, case: Case) -> dict[str, np.ndarray]:
    return _load_npz(input_dir(cases_dir, section) / f"{case.name}.npz")


def load_expected(cases_dir: Path, section: Section, case: Case) -> dict[str, np.ndarray]:
    return _load_npz(expected_dir(cases_dir, section) / f"{case.name}.npz")


def save_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> None:
    """Write an ``.npz`` readable by ``np.load`` whose bytes depend only on the arrays.

    ``np.savez`` stamps the current time into the archive; fixed stamps make a
    regeneration of the test cases byte-identical. ``path`` may be a file object.
    """
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


# ----------------------------------------------------------------- execution
def import_solution(directory: Path):
    """Import ``interface`` and ``solution`` from ``directory``; returns both modules.

    Earlier imports of modules with these names are forgotten first, so the
    files in ``directory`` are the ones imported.
    """
    for name in ("solution", "interface"):
        sys.modules.pop(name, None)
    if str(directory) in sys.path:
        sys.path.remove(str(directory))
    sys.path.insert(0, str(directory))
    interface = importlib.import_module("interface")
    return importlib.import_module("solution"), interface


def stand_in_optimizer(interface):
    """An optimizer whose updaters never run: layer cases must not depend on SGD."""

    class StandInOptimizer(interface.Optimizer):
        def get_parameter_updater(self, parameter_shape):
            def updater(parameter, parameter_grad):
                raise RuntimeError("parameters are not updated in layer test cases")
            return updater

    return StandInOptimizer()


def _run_layer(solution, interface, case: Case, inputs: dict) -> dict:
    layer_class = getattr(solution, case.params["layer"])
    x = inputs["inputs"].copy()
    layer = layer_class(*case.params.get("args", ()), input_shape=x.shape[1:])
    layer.build(stand_in_optimizer(interface))
    grads = case.params.get("parameter_grads", ())
    for name in grads:  # "weights_grad": the case's "weights" are set first
        parameter = name.removesuffix("_grad")
        setattr(layer, parameter, inputs[parameter].copy())
    outputs = {"outputs": layer(x)}
    outputs["grad_inputs"] = layer.backward(inputs["grad_outputs"].copy())
    for name in grads:
        outputs[name] = getattr(layer, name)
    return outputs


def _run_loss(solution, interface, case: Case, inputs: dict) -> dict:
    loss = getattr(solution, case.params["loss"])()
    return {"loss": loss(inputs["y_gt"].copy(), inputs["y_pred"].copy()),
            "gradient": loss.gradient(inputs["y_gt"].copy(), inputs["y_pred"].copy())}


def _run_optimizer(solution, interface, case: Case, inputs: dict) -> dict:
    """Apply the updaters of several parameters in turn, step by step; keep trajectories."""
    optimizer = getattr(solution, case.params["optimizer"])(**case.params["kwargs"])
    count = case.params["n_parameters"]
    parameters = [inputs[f"parameter_{i}"].copy() for i in range(count)]
    updaters = [optimizer.get_parameter_updater(p.shape) for p in parameters]
    trajectories = [[] for _ in range(count)]
    for step in range(case.params["steps"]):
        for i in range(count):
            new_value = updaters[i](parameters[i], inputs[f"grads_{i}"][step].copy())
            if not isinstance(new_value, np.ndarray):
                return {f"parameter_{i}_trajectory": new_value}
            parameters[i] = np.array(new_value, copy=True)
            trajectories[i].append(parameters[i].copy())  # an in-place update must not
            # change the steps already recorded (Model writes parameter[...] = new value)
    return {f"parameter_{i}_trajectory": np.stack(trajectories[i]) for i in range(count)}


OPS = {"layer": _run_layer, "loss": _run_loss, "optimizer": _run_optimizer}


def execute_case(solution, interface, case: Case, inputs: dict) -> dict:
    """Run one case on the student's code; returns quantity name -> whatever it returned."""
    return OPS[case.op](solution, interface, case, inputs)


# ------------------------------------------------------------------- judging
def describe_value(value) -> str:
    """What came back instead of an array of floats, said so a student recognises it."""
    if value is None:
        return "None (does the method return its result?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, np.generic):
        return f"a scalar {value.dtype}"
    if isinstance(value, (bool, int, float, complex)):
        return f"a Python {type(value).__name__} ({value!r})"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def not_an_array_problem(name: str, description: str, expected: np.ndarray) -> str:
    return f"`{name}`: expected an array of shape {expected.shape} of floats, got {description}"


def _index_text(flat_index: int, shape: tuple) -> str:
    return str(tuple(int(i) for i in np.unravel_index(flat_index, shape))) if shape else "()"


def _relative_error_text(bad: np.ndarray, abs_err: np.ndarray, expected: np.ndarray) -> str:
    """The largest relative error over the differing values whose expected value is not 0
    (relative to 0 every error is infinite, which tells nothing), and how many expect 0."""
    wanted = np.abs(expected.ravel()[bad])
    at_zero = int(np.count_nonzero(wanted == 0))
    text = ""
    if at_zero < bad.size:
        with np.errstate(all="ignore"):
            relative = abs_err.ravel()[bad][wanted != 0] / wanted[wanted != 0]
        text = f", max rel error {np.max(relative):.3g}"
    if at_zero:
        text += f" ({'all' if at_zero == bad.size else at_zero} of them where 0 is expected)"
    return text


def compare_quantity(name: str, actual, expected: np.ndarray, rtol: float, atol: float,
                     reveal: bool = True) -> str | None:
    """Return None when ``actual`` matches ``expected``, else a precise explanation."""
    if not isinstance(actual, np.ndarray) or actual.dtype.kind not in "biuf":
        return not_an_array_problem(name, describe_value(actual), expected)
    if actual.shape != expected.shape:
        return f"`{name}`: expected shape {expected.shape}, got shape {actual.shape}"
    if actual.dtype.kind != "f" or actual.dtype.itemsize < 4:
        return (f"`{name}`: expected a floating-point array (float32 or float64) like "
                f"{expected.dtype}, got dtype {actual.dtype}")
    actual64 = actual.astype(np.float64)
    with np.errstate(all="ignore"):
        close = np.isclose(actual64, expected, rtol=rtol, atol=atol)
        if close.all():
            return None
        nonfinite = ~np.isfinite(actual64) & np.isfinite(expected)
        abs_err = np.where(np.isfinite(actual64), np.abs(actual64 - expected), np.inf)
    bad = np.flatnonzero(~close)
    worst = int(np.argmax(np.where(close, -1.0, abs_err).ravel()))
    lines = [f"`{name}`: {bad.size} of {expected.size} values differ "
             f"(rtol={rtol:g}, atol={atol:g}); max abs error {abs_err.ravel()[worst]:.3g} "
             f"at index {_index_text(worst, expected.shape)}{_relative_error_text(bad, abs_err, expected)}"]
    if nonfinite.any():
        first = int(np.flatnonzero(nonfinite.ravel())[0])
        lines.append(f"  {int(nonfinite.sum())} values are NaN or infinite, first at index "
                     f"{_index_text(first, expected.shape)}")
    if reveal:
        for flat in bad[:MAX_SHOWN_MISMATCHES]:
            lines.append(f"  at {_index_text(int(flat), expected.shape)}: expected "
                         f"{float(expected.ravel()[flat]):.10g}, got {float(actual64.ravel()[flat]):.10g}")
    return "\n".join(lines)


QUANTITY_ORDER = ("outputs", "loss", "grad_inputs", "gradient", "weights_grad", "biases_grad")


def _quantity_order(item: tuple[str, object]) -> tuple[int, str]:
    """Forward results before gradients, as the student computes them."""
    name = item[0]
    return (QUANTITY_ORDER.index(name) if name in QUANTITY_ORDER else len(QUANTITY_ORDER), name)


def compare_outputs(case: Case, actual: dict, expected: dict, reveal: bool = True) -> dict[str, str]:
    """One explanation per mismatching quantity, by name (empty when the case passes)."""
    problems = {}
    for name, expected_value in sorted(expected.items(), key=_quantity_order):
        if name not in actual:
            problems[name] = f"`{name}`: no value was produced"
            continue
        problem = compare_quantity(name, actual[name], expected_value, case.rtol, case.atol, reveal)
        if problem:
            problems[name] = problem
    return problems


FLOATING_POINT_ERRORS = (  # (words of numpy's message, what it means), the first that fits
    ("overflow encountered in exp", "np.exp overflowed to inf (its argument was above 709): "
                                    "subtract each row's own maximum first (axis=1, "
                                    "keepdims=True)"),
    ("encountered in log", "np.log of 0 or of a negative value: keep its argument above 0"),
    ("divide by zero", "a division by zero"),
    ("invalid value", "an invalid operation such as 0/0, inf/inf or inf - inf"),
    ("overflow", "a value overflowed to inf"),
    ("", "an overflow, a division by zero or an invalid operation"),
)


def student_traceback(error: BaseException, student_file: str = "solution.py") -> str:
    """The traceback of ``error`` trimmed to the frames in the student's file."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if Path(frame.filename).name == student_file]
    lines = traceback.format_list(frames) if frames else []
    lines += traceback.format_exception_only(type(error), error)
    text = "".join(lines).rstrip()
    if isinstance(error, FloatingPointError):
        what = next(hint for words, hint in FLOATING_POINT_ERRORS if words in str(error))
        text += f"\nhint: numpy raised a floating-point error: {what}"
    return text


def case_failure_text(case: Case, problems: list[str]) -> str:
    return f"case {case.name} ({case.description}):\n" + "\n".join(problems)


# ------------------------------------------------------------ local running
def check_section(solution, interface, cases_dir: Path, section: Section) -> list[str]:
    """Run and judge every case of a section in this process; returns failure texts."""
    failures = []
    for case in load_cases(cases_dir, section):
        inputs = load_inputs(cases_dir, section, case)
        try:
            actual = execute_case(solution, interface, case, inputs)
        except Exception as error:  # the student's code failed: report, go on
            failures.append(case_failure_text(case, [student_traceback(error)]))
            continue
        problems = compare_outputs(case, actual, load_expected(cases_dir, section, case))
        if problems:
            failures.append(case_failure_text(case, list(problems.values())))
    return failures


def check_mnist_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of predicted classes against labels; shapes must match."""
    predicted = np.asarray(predicted)
    if predicted.shape != labels.shape:
        raise ValueError(f"expected {labels.shape[0]} predicted classes, got shape {predicted.shape}")
    return float(np.mean(predicted == labels))


def predict_classes(model, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Predicted class of every row of ``x``, computed in batches."""
    classes = [np.argmax(model.forward(x[start:start + batch_size]), axis=1)
               for start in range(0, x.shape[0], batch_size)]
    return np.concatenate(classes).astype(np.int64)
