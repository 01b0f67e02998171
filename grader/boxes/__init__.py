"""The kinds of box, chosen by name: ``bwrap`` (process backend), ``docker``, ``none``."""
from __future__ import annotations

import importlib

from grader.boxes.base import Box, BoxUnavailable
from grader.config import GradingConfig
from grader.options import GradingOptions

BOXES = {"bwrap": "grader.boxes.bwrap:BwrapBox", "docker": "grader.boxes.docker:DockerBox",
         "none": "grader.boxes.trusted:TrustedBox"}


def box_name(options: GradingOptions) -> str:
    """The box ``options`` ask for: a container, no box (trusted code), else bubblewrap."""
    if options.backend == "docker":
        return "docker"
    return "bwrap" if options.sandbox else "none"


def make_box(options: GradingOptions, config: GradingConfig) -> Box:
    """The box for ``options``; ``BoxUnavailable`` says what is missing and how to get it.
    (Each kind is imported only when chosen: the Docker SDK is not loaded for bubblewrap.)"""
    module, _, name = BOXES[box_name(options)].partition(":")
    kind = getattr(importlib.import_module(module), name)
    return kind.from_config(options, config)


__all__ = ["BOXES", "Box", "BoxUnavailable", "box_name", "make_box"]
