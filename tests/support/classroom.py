"""A generated class: correct submissions, ones broken in one section, hostile ones."""
from __future__ import annotations

from pathlib import Path

from tests.grading_fixtures import REFERENCE_SOLUTION

HOSTILE_DIR = Path(__file__).resolve().parent.parent / "submissions" / "hostile"
PRELUDE = (HOSTILE_DIR / "_findings.py").read_text(encoding="utf-8")
BROKEN = {  # section -> the reference's snippet and its broken version
    "relu": ("return np.maximum(inputs, 0.0)", "return np.abs(inputs)"),
    "softmax": ("return exps / exps.sum(axis=1, keepdims=True)", "return exps"),
    "dense": ("return inputs @ self.weights + self.biases", "return inputs @ self.weights"),
    "crossentropy": ("return -np.sum(y_gt * np.log(safe_pred), axis=1)",
                     "return np.sum(y_gt * np.log(safe_pred), axis=1)"),
    "sgd": ("return parameter - self._lr * parameter_grad",
            "return parameter + self._lr * parameter_grad"),
    "momentum": ("updater.inertia = self._momentum * updater.inertia + self._lr * parameter_grad",
                 "updater.inertia = self._lr * parameter_grad"),
}
HOSTILE = ("fork_bomb_relu", "memory_bomb_dense", "os_exit_at_import", "syntax_error",
           "infinite_loop_relu", "kill_parent_relu", "sleep_at_import", "noisy_output_relu",
           "exception_softmax", "forged_frames_relu", "fake_report_stdout", "nan_momentum")


def reference_source() -> str:
    return REFERENCE_SOLUTION.read_text(encoding="utf-8")


def broken_source(section: str) -> str:
    old, new = BROKEN[section]
    source = reference_source()
    assert old in source, f"snippet not in the reference solution: {old!r}"
    return source.replace(old, new)


def hostile_source(name: str) -> str:
    tail = (HOSTILE_DIR / f"{name}.py").read_text(encoding="utf-8")
    return reference_source().rstrip("\n") + "\n\n\n" + PRELUDE + "\n\n" + tail


def class_sources(count: int) -> dict[str, str]:
    """``count`` students' sources: a hostile one, a broken one and a correct one in turn
    (every hostile kind and every broken section appear once ``count`` reaches 36)."""
    sources = {}
    for number in range(count):
        turn, kind = divmod(number, 3)
        if kind == 0:
            name = HOSTILE[turn % len(HOSTILE)]
            student, source = f"s{number:03d}-hostile-{name}", hostile_source(name)
        elif kind == 1:
            name = list(BROKEN)[turn % len(BROKEN)]
            student, source = f"s{number:03d}-broken-{name}", broken_source(name)
        else:  # each correct one a little different, as students' are
            student = f"s{number:03d}-correct"
            source = reference_source() + f"\n# student {number}\n"
        sources[student] = source
    return sources


def write_class(folder: Path, count: int) -> dict[str, str]:
    """``<student>.py`` files in ``folder``; the sources by student."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = class_sources(count)
    for student, source in sources.items():
        (folder / f"{student}.py").write_text(source, encoding="utf-8")
    return sources
