"""The kinds of box, chosen by name: ``bwrap`` (process backend), ``docker``, ``none``."""
from __future__ import annotations

from grader.boxes.base import Box, BoxUnavailable
from grader.config import GradingConfig
from grader.options import GradingOptions


def make_box(options: GradingOptions, config: GradingConfig) -> Box:
    """The box for ``options``; ``BoxUnavailable`` says what is missing and how to get it."""
    if options.backend == "docker":
        from grader.boxes.docker import DockerBox

        return DockerBox(options.image or config.docker.image, config.docker)
    if not options.sandbox:
        from grader.boxes.trusted import TrustedBox

        return TrustedBox()
    from grader.boxes.bwrap import BwrapBox

    return BwrapBox()


__all__ = ["Box", "BoxUnavailable", "make_box"]
