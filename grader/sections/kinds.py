"""The kinds of section, by the kind each section of the cases declares (``sections.json``).

``unit`` sections (ReLU ... SGDMomentum) run their public and their hidden cases in a
child each, all six sections in one shared box (``grader.sections.unit``); ``mnist``
trains in a box of its own whose time limit covers everything from the box's start
(``grader.sections.mnist``). A new kind is a new module with its ``SectionKind`` (and the
code its runs execute in the box) and an entry here; nothing else branches on a section's
name or kind, and the boxes know none of them.
"""
from __future__ import annotations

from grader.sections.base import CasesError, SectionKind
from grader.sections.mnist import MnistSection
from grader.sections.unit import UnitSection

KINDS: dict[str, type[SectionKind]] = {kind.box_key: kind for kind in (UnitSection, MnistSection)}

__all__ = ["KINDS", "CasesError", "MnistSection", "SectionKind", "UnitSection"]
