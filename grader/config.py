"""The instructor-editable grading configuration (``test_cases/grading.toml``)."""
from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_FILE = "grading.toml"


class ConfigError(Exception):
    """The grading configuration cannot be read or is invalid."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    """Resource limits of one sandboxed section run."""

    timeout_seconds: float = Field(30, gt=0, description="wall-clock limit; the process tree is killed past it")
    memory_mb: int = Field(1024, ge=128, description="address-space limit (RLIMIT_AS)")
    cpu_seconds: int = Field(30, gt=0, description="CPU-time limit (RLIMIT_CPU)")
    max_processes: int = Field(32, ge=4, description="processes and threads of the sandbox user (RLIMIT_NPROC)")
    max_file_size_mb: int = Field(16, ge=1, description="largest file the submission may write (RLIMIT_FSIZE)")
    max_output_kb: int = Field(64, ge=1, description="captured stdout/stderr kept per section")


class MnistLimits(Limits):
    timeout_seconds: float = Field(600, gt=0, description="training plus prediction, wall clock")
    memory_mb: int = Field(4096, ge=256, description="address-space limit (RLIMIT_AS)")
    cpu_seconds: int = Field(2400, gt=0, description="CPU-time limit (RLIMIT_CPU)")
    max_processes: int = Field(64, ge=4, description="processes and threads (RLIMIT_NPROC)")
    max_file_size_mb: int = Field(64, ge=1, description="largest file the submission may write")
    min_accuracy: float = Field(0.90, ge=0, lt=1, description="test accuracy must be strictly greater")


class Policy(Strict):
    fail_on_modified_code: bool = Field(
        False, description="fail the whole submission when given code outside the solution regions changed")


class DockerSettings(Strict):
    """The Docker backend (``grader grade --backend docker``): one container per submission."""

    image: str = Field("nn-grader:latest", min_length=1,
                       description="grading image (docker/build_images.sh builds nn-grader:latest)")
    cpus: float = Field(2.0, gt=0, description="CPUs the container may use (docker --cpus)")
    memory_mb: int = Field(6144, ge=512, description="memory of the whole container, all sections "
                                                     "(cgroup limit, no swap)")
    pids_limit: int = Field(256, ge=16, description="processes and threads in the container")
    tmpfs_mb: int = Field(256, ge=16, description="size of the scratch tmpfs /tmp (the sections' "
                                                  "working directories)")
    timeout_margin_seconds: float = Field(60, ge=0, description="added to the sum of the section "
                                                                "timeouts; past it the container is killed")


class GradingConfig(Strict):
    unit: Limits = Limits()
    mnist: MnistLimits = MnistLimits()
    policy: Policy = Policy()
    docker: DockerSettings = DockerSettings()


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
