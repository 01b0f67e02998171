"""How fast this machine trains a network, against the course's grading machine.

The assignment's 10 minutes hold on the course's grading machine. A fixed
workload (the forward and backward passes of a 784-256-128-10 network on
batches of 128, in float64, one BLAS thread, as students' solutions do) is
timed here in CPU seconds, in a child process, several times; the median over
the figure recorded for the reference machine in ``grading.toml`` is the
factor by which the MNIST budget grows (a slower machine) or shrinks. CPU time
rather than wall time: other load on the machine changes it little. A
measurement whose repeats spread more than ``MAX_SPREAD`` is refused.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.files import write_atomically

REPEATS = 5
MAX_SPREAD = 0.15  # (slowest - fastest) / median of the repeats
WORKLOAD = """
import numpy as np
rng = np.random.default_rng(0)
shapes = [(784, 256), (256, 128), (128, 10)]
weights = [rng.normal(0, 0.05, shape) for shape in shapes]
x = rng.normal(size=(128, 784))
for step in range(STEPS):
    activations = [x]
    for w in weights:
        activations.append(np.maximum(activations[-1] @ w, 0.0))
    grad = activations[-1] - 0.5
    for layer in reversed(range(len(weights))):
        weights[layer] -= 1e-4 * (activations[layer].T @ grad) / 128
        grad = (grad @ weights[layer].T) * (activations[layer] > 0)
"""
STEPS = 400


class CalibrationError(Exception):
    """The machine could not be measured steadily enough."""


@dataclass(frozen=True)
class Measurement:
    seconds: float          # median CPU seconds of the workload
    spread: float           # (slowest - fastest) / median
    machine: str
    numpy: str
    measured: str


def machine_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} CPUs"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def _workload_seconds() -> float:
    """CPU seconds of one run of the workload in a child with one BLAS thread."""
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                      "MKL_NUM_THREADS")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", "STEPS = %d\n%s" % (STEPS, WORKLOAD)], check=True,
                   env={**os.environ, **threads}, capture_output=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(repeats: int = REPEATS) -> Measurement:
    import numpy

    _workload_seconds()  # warm the caches
    seconds = sorted(_workload_seconds() for _ in range(repeats))
    median = statistics.median(seconds)
    spread = (seconds[-1] - seconds[0]) / median
    if spread > MAX_SPREAD:
        raise CalibrationError(f"the workload took from {seconds[0]:.2f} to {seconds[-1]:.2f} CPU "
                               f"seconds: too unsteady (spread {spread:.0%}, at most "
                               f"{MAX_SPREAD:.0%}); try again on a quieter machine")
    return Measurement(round(median, 4), round(spread, 4), machine_name(), numpy.__version__,
                       time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def load(path: Path) -> Measurement | None:
    """This machine's stored measurement, if it is this machine's (same CPU, same numpy)."""
    import numpy

    try:
        found = Measurement(**json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return found if (found.machine, found.numpy) == (machine_name(), numpy.__version__) else None


def save(measurement: Measurement, path: Path) -> Path:
    return write_atomically(Path(path), json.dumps(asdict(measurement), indent=2) + "\n")


def record_reference(measurement: Measurement, config_file: Path) -> None:
    """Make this machine the reference of ``config_file`` (``grading.toml``; comments kept)."""
    import tomlkit

    document = tomlkit.parse(config_file.read_text(encoding="utf-8")) if config_file.exists() \
        else tomlkit.document()
    table = document.setdefault("calibration", tomlkit.table())
    table["reference_seconds"] = measurement.seconds
    table["reference_machine"] = f"{measurement.machine}, numpy {measurement.numpy}, " \
                                 f"{measurement.measured}"
    config_file.write_text(tomlkit.dumps(document), encoding="utf-8")


def calibration_file() -> Path:
    """``$GRADER_CALIBRATION_FILE``, else ``~/.cache/nn-grader/calibration.json``."""
    configured = os.environ.get("GRADER_CALIBRATION_FILE")
    return Path(configured) if configured else Path.home() / ".cache" / "nn-grader" / \
        "calibration.json"


def factor(reference_seconds: float | None, reference_machine: str) -> tuple[float, str]:
    """How many times slower than the reference machine this one is, and how that was found
    (measured once per machine and numpy, then kept in ``calibration_file()``)."""
    if reference_seconds is None:
        return 1.0, ("not calibrated: grading.toml has no [calibration] reference figure, so "
                     "the limit holds as it stands on this machine")
    here = load(calibration_file())
    if here is None:
        print("nn-grader: measuring this machine for the MNIST time budget (once, about 10 s)",
              file=sys.stderr, flush=True)
        here = measure()
        try:
            save(here, calibration_file())
        except OSError:
            pass  # measured again next time
    scale = here.seconds / reference_seconds
    return scale, (f"calibration: this machine ({here.machine}) needs {here.seconds:.2f} CPU s "
                   f"for the workload, the reference machine ({reference_machine or 'unnamed'}) "
                   f"{reference_seconds:.2f} s: factor {scale:.2f}")
