"""The instructor-editable grading configuration (``test_cases/grading.toml``)."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CONFIG_FILE = "grading.toml"
# A run with an idle limit is idle when its processes use less than this share of one core over
# the limit. Sleeping or blocked (a lock, a pipe, input, a child that sleeps), a run uses next to
# nothing: a few clock ticks a minute. Work gets far more even on a crowded machine: beside two
# busy processes per core, training still gets 40% of a core or more, twenty times this share.
IDLE_CPU_SHARE = 0.02


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
    """The Docker box (``grader grade --box docker``): the box is a container."""

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


class CaseSettings(Strict):
    """One case of a unit section: what ``grader generate`` draws and runs the reference on."""

    name: str = Field(pattern=r"^[a-z0-9_]+$", description="the case's name (its files' "
                      "names), unique among all the cases")
    description: str = Field(min_length=1, description="what the case checks, as students "
                             "read it in a failure")
    rtol: float = Field(1e-5, gt=0, description="relative tolerance of its comparisons")
    atol: float = Field(1e-6, ge=0, description="absolute tolerance of its comparisons")


class LayerCase(CaseSettings):
    """A layer's forward and backward pass on inputs of one input maker, gradients drawn."""

    builder: Literal["layer"] = "layer"
    inputs: str = Field("normal", description="input maker by name (reference/generate.py "
                        "MAKERS): normal, normal_off_zero (1e-3 or more from 0: no verdict on "
                        "ReLU'(0)), far_apart_logits, large_logits, peaked_logits, ...")
    shape: list[int] | None = Field(None, description="the inputs' shape, batch first (makers "
                                    "of a fixed shape take none)")
    scale: float | None = Field(None, gt=0, description="standard deviation of normal inputs")
    args: list[Any] = Field([], description="the layer's arguments before input_shape")
    parameters: dict[str, str] = Field({}, description="trainable parameters set before the "
                                       "call and whose gradients are checked, each with the "
                                       "maker of its values: normal, he_normal")


class LossCase(CaseSettings):
    """A loss and its gradient on labels and predictions of one input maker."""

    builder: Literal["loss"] = "loss"
    inputs: str = Field("one_hot_probabilities", description="input maker by name: "
                        "one_hot_probabilities (true classes 0.02 or more), "
                        "confidently_wrong_probabilities, ...")
    shape: list[int] | None = Field(None, description="(samples, classes)")


class OptimizerCase(CaseSettings):
    """An optimizer's parameter trajectories, step by step, gradients drawn."""

    builder: Literal["optimizer"] = "optimizer"
    kwargs: dict[str, float] = Field({}, description="the optimizer's arguments (lr, ...)")
    shapes: list[list[int]] = Field(min_length=1, description="one shape per parameter")
    steps: int = Field(ge=1, description="updates of every parameter")


CaseEntry = Annotated[LayerCase | LossCase | OptimizerCase, Field(discriminator="builder")]
BUILDERS = ("layer", "loss", "optimizer")


class SectionSettings(Strict):
    """One graded section (README, "Adding a section"). Unit sections declare their cases;
    ``grader generate`` writes them, and the section's public description into
    ``public/sections.json`` (what the grader and the students' runner read)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the section's name: its "
                      "random streams, reports and `run.py unittest <name>`")
    title: str = Field(min_length=1, description="as the assignment numbers it")
    points: float = Field(gt=0, description="scored when every case passes")
    kind: Literal["unit", "mnist"] = Field(description="unit: cases with expected outputs; "
                                           "mnist: trained and scored")
    folder: str = Field("", pattern=r"^[A-Za-z0-9_]*$", description="unit: the cases' folders "
                        "<folder>_input and <folder>_gt under public/ and hidden/")
    graded_class: str = Field("", alias="class", description="unit: the class of "
                              "solution.py students write for it (the audit mutates it)")
    builder: Literal["layer", "loss", "optimizer"] | None = Field(
        None, description="unit: what its cases run: a layer's forward and backward, a loss "
        "and its gradient, an optimizer's trajectories")
    public: list[CaseEntry] = Field([], description="cases shipped to students")
    hidden: list[CaseEntry] = Field([], description="cases only the grader holds")

    @model_validator(mode="before")
    @classmethod
    def _cases_use_the_sections_builder(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("builder") in BUILDERS:
            data = {**data, **{visibility: [
                {"builder": data["builder"], **case} if isinstance(case, dict) else case
                for case in data.get(visibility, [])] for visibility in ("public", "hidden")}}
        return data

    @model_validator(mode="after")
    def _complete(self) -> SectionSettings:
        if self.kind == "unit":
            missing = [key for key, value in (("folder", self.folder), ("class", self.graded_class),
                                              ("builder", self.builder)) if not value]
            if missing:
                raise ValueError(f"unit section {self.name!r} needs {', '.join(missing)}")
            if not self.public and not self.hidden:
                raise ValueError(f"unit section {self.name!r} has no cases ([[sections.public]] "
                                 "or [[sections.hidden]])")
        elif self.public or self.hidden or self.folder or self.builder:
            raise ValueError(f"{self.kind} section {self.name!r} takes no cases, folder or builder")
        return self

    def record(self) -> dict[str, Any]:
        """The public description (``reference.common.Section``; no case, nothing hidden)."""
        return {"name": self.name, "title": self.title, "points": self.points,
                "kind": self.kind, "folder": self.folder, "class": self.graded_class}


def _duplicates(values: list[str]) -> list[str]:
    return sorted({value for value in values if value and values.count(value) > 1})


class GradingConfig(Strict):
    sections: list[SectionSettings] = Field([], description="the graded sections, in report "
                                            "order (README, \"Adding a section\")")
    unit: UnitLimits = UnitLimits()
    mnist: MnistLimits = MnistLimits()
    box: BoxSettings = BoxSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    policy: Policy = Policy()
    docker: DockerSettings = DockerSettings()
    similarity: SimilaritySettings = SimilaritySettings()
    audit: AuditSettings = AuditSettings()
    tolerance: ToleranceSettings = ToleranceSettings()

    @model_validator(mode="after")
    def _names_once(self) -> GradingConfig:
        for what, values in (
                ("section name", [section.name for section in self.sections]),
                ("section folder", [section.folder for section in self.sections]),
                ("case name", [case.name for section in self.sections
                               for case in section.public + section.hidden])):
            if _duplicates(values):
                raise ValueError(f"duplicate {what}: {', '.join(_duplicates(values))}")
        return self


def load_config(cases_dir: Path) -> GradingConfig:
    """Read ``grading.toml`` beside the test cases; defaults when it is absent."""
    path = Path(cases_dir) / CONFIG_FILE
    if not path.exists():
        return GradingConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return GradingConfig.model_validate(data)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except ValidationError as error:
        problems = "; ".join(": ".join(filter(None, (
            _where(e["loc"], data), e["msg"].removeprefix("Value error, "))))
            for e in error.errors())
        raise ConfigError(f"{path}: {problems}") from None


def _where(loc: tuple, data: dict) -> str:
    """A problem's place, sections and cases by name: ``sections.tanh.public.tanh_small``."""
    parts, node = [], data
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            named = node.get("name") if isinstance(node, dict) else None
            parts.append(named if isinstance(named, str) and named else str(key))
            continue
        node = node.get(key) if isinstance(node, dict) else None
        parts.append(str(key))
    return ".".join(parts)
