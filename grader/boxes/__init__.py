"""The kinds of box, chosen by name (``--box``): ``bwrap``, ``docker``, ``in-container``,
``none``; ``bwrap`` falls back to ``in-container`` when bubblewrap cannot make namespaces but
the grader is root (a container such as Gradescope's), unless grading.toml's
``box.in_container_fallback`` is false."""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

from grader.boxes.base import Box, BoxUnavailable
from grader.options import GradingOptions

if TYPE_CHECKING:
    from grader.config import GradingConfig

BOXES = {"bwrap": "grader.boxes.bwrap:BwrapBox", "docker": "grader.boxes.docker:DockerBox",
         "none": "grader.boxes.trusted:TrustedBox",
         "in-container": "grader.boxes.in_container:InContainerBox"}


def make_box(options: GradingOptions, config: GradingConfig) -> Box:
    """The box for ``options``; ``BoxUnavailable`` says what is missing and how to get it.
    (Each kind is imported only when chosen: the Docker SDK is not loaded for bubblewrap.)"""
    chosen = options.box
    if chosen not in BOXES:
        raise BoxUnavailable(f"there is no box {chosen!r}: {', '.join(BOXES)}")
    try:
        return _box_kind(chosen).from_config(options, config)
    except BoxUnavailable as error:
        if chosen != "bwrap" or os.geteuid() != 0 or not config.box.in_container_fallback:
            raise
        try:
            return _box_kind("in-container").from_config(options, config)
        except BoxUnavailable as fallback:
            raise BoxUnavailable(f"{error}; the in-container box: {fallback}") from None


def _box_kind(name: str) -> type[Box]:
    module, _, attribute = BOXES[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


__all__ = ["BOXES", "Box", "BoxUnavailable", "make_box"]
