"""The instructor-editable grading configuration (``test_cases/grading.toml``)."""
from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.boxes.protocol import IDLE_CPU_SHARE

CONFIG_FILE = "grading.toml"


class ConfigError(Exception):
    """The grading configuration cannot be read or is invalid."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    """Resource limits of one run of a section (its public cases, or its hidden cases)."""

    timeout_seconds: float = Field(30, gt=0, description="wall-clock limit; every process of the run is killed past it")
    memory_mb: int = Field(1024, ge=128, description="memory (RLIMIT_AS of the run; the box's cgroup adds 128 MB for the supervisor)")
    max_processes: int = Field(32, ge=4, description="processes and threads (RLIMIT_NPROC; the box's pids cgroup)")
    max_file_size_mb: int = Field(16, ge=1, description="largest file the submission may write (RLIMIT_FSIZE)")
    max_output_kb: int = Field(64, ge=1, description="captured stdout/stderr kept per section")


class UnitLimits(Limits):
    cpu_seconds: int = Field(30, gt=0, description="CPU-time limit (RLIMIT_CPU)")


class MnistLimits(Limits):
    timeout_seconds: float = Field(600, gt=0, description="the assignment's limit on the course's "
                                                          "grading machine: import, training and prediction")
    wall_guard_factor: float = Field(3.0, ge=1, description="the box is stopped past this many times "
                                                            "the limit of wall-clock time (against sleeping)")
    idle_seconds: float = Field(60, ge=2, description="the run is stopped (verdict idle) once its "
                                f"processes used less than {IDLE_CPU_SHARE:.0%} of one core over "
                                "this many seconds of wall clock: sleeping or blocked, it would "
                                "hold its box (and in a class a worker) until the wall-clock "
                                "guard; its CPU time is read once a second")
    blas_threads: int = Field(1, ge=1, description="BLAS threads of the MNIST box; with more, "
                                                   "waiting threads spin and a loaded machine "
                                                   "inflates the CPU time the budget counts")
    memory_mb: int = Field(4096, ge=256, description="address-space limit (RLIMIT_AS)")
    max_processes: int = Field(64, ge=4, description="processes and threads (RLIMIT_NPROC)")
    max_file_size_mb: int = Field(64, ge=1, description="largest file the submission may write")
    min_accuracy: float = Field(0.90, ge=0, lt=1, description="test accuracy must be strictly greater")


class Policy(Strict):
    fail_on_modified_code: bool = Field(
        False, description="fail the whole submission when given code outside the solution regions changed")


class BoxSettings(Strict):
    """Every box, whatever its kind: the submission's import and its scratch space."""

    import_timeout_seconds: float = Field(10, gt=0, description="importing solution.py, once per "
                                                                "box; past it every section of the box fails")
    scratch_mb: int = Field(64, ge=8, description="size of the box's /tmp and of its /dev/shm "
                                                  "(tmpfs, counted as the box's memory)")
    packages: list[str] = Field(
        ["tqdm", "matplotlib"], description="what solution.py may import besides numpy and the "
        "course framework (installed packages, with what they require; the Docker image is "
        "built with them); students' files plot with matplotlib and show progress with tqdm")
    uid_base: int = Field(62000, ge=1000, description="first of the uids that gradings running at "
                                                      "the same time use, one each (root hosts)")
    uids: int = Field(64, ge=1, le=4096, description="how many such uids: at most this many "
                                                      "gradings run at once, others wait")
    in_container_fallback: bool = Field(
        True, description="when bubblewrap cannot make namespaces (a container refusing them, "
        "as on Gradescope) and the grader is root, use the in-container box: own uid, rlimits, "
        "seccomp, no network; false: refuse to grade instead")


class DockerSettings(Strict):
    """The Docker backend (``grader grade --backend docker``): the box is a container."""

    image: str = Field("nn-grader:latest", min_length=1,
                       description="grading image (docker/build_images.sh builds nn-grader:latest)")
    cpus: float = Field(2.0, gt=0, description="CPUs each container may use (docker --cpus)")
    uid_base: int = Field(10001, ge=1000, description="first uid of the containers' users, one "
                                                      "per grading running at the same time")


class CalibrationSettings(Strict):
    """The course's grading machine, where the assignment's time limit holds."""

    reference_seconds: float | None = Field(None, gt=0, description="CPU seconds of the "
                                            "calibration workload there (grader calibrate)")
    reference_machine: str = Field("", description="which machine that was")


class SimilaritySettings(Strict):
    """Which pairs of submissions the class report shows as suspiciously alike."""

    threshold: float = Field(0.8, gt=0, le=1, description="share of a submission's own code "
                             "(normalised) found in the other's, from which a pair is shown")
    min_overlap: int = Field(120, ge=1, description="characters of normalised code in common "
                             "below which a pair is never shown (short correct solutions agree)")


class ToleranceSettings(Strict):
    """The tolerance policy: what every case accepts (``grader audit`` grades variants that
    rely on it and fails on any of them failing a case)."""

    max_epsilon: float = Field(1e-7, gt=0, le=1e-3, description="any epsilon up to this, "
                               "added to or clipped in the loss and its gradient, passes every "
                               "case (the audit grades every decade from it down to 1e-12)")


class AuditSettings(Strict):
    """``grader audit``: how strong the test cases must be before they are released."""

    min_score: float = Field(0.9, ge=0, le=1, description="least mutation score of every "
                             "section (killed mutants over killed and surviving ones)")


class GradingConfig(Strict):
    unit: UnitLimits = UnitLimits()
    mnist: MnistLimits = MnistLimits()
    box: BoxSettings = BoxSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    policy: Policy = Policy()
    docker: DockerSettings = DockerSettings()
    similarity: SimilaritySettings = SimilaritySettings()
    audit: AuditSettings = AuditSettings()
    tolerance: ToleranceSettings = ToleranceSettings()


def load_config(cases_dir: Path) -> GradingConfig:
    """Read ``grading.toml`` beside the test cases; defaults when it is absent."""
    path = Path(cases_dir) / CONFIG_FILE
    if not path.exists():
        return GradingConfig()
    try:
        return GradingConfig.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from None
