"""Pairs of submissions whose own code is suspiciously alike (copydetect's winnowing).

Only the students' own code is compared: the text inside the ``# Your code here``
regions (the whole file when its markers do not pair up, with the template's code
as boilerplate, so the given code never counts). copydetect normalises the code
(names, comments and whitespace do not matter) and fingerprints it; a pair is shown
when the larger of its two overlaps reaches the threshold and the overlap is long
enough to mean something. Correct solutions of short functions look alike: the
threshold and the minimum overlap are in grading.toml's [similarity].
"""
from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

import numpy as np
from copydetect import CodeFingerprint, compare_files

from grader.given_code.syntax import regions

NOISE_CHARACTERS = 20    # copydetect's k: shorter matches of normalised code are noise
GUARANTEE_CHARACTERS = 24  # matches this long are always found (winnowing window)
SOURCE_NAME = "solution.py"  # tells copydetect which lexer to use


@dataclass(frozen=True)
class Segment:
    text: str
    matched: bool


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    similarity: float            # the larger of the two overlaps (0..1)
    similarities: tuple[float, float]
    overlap: int                 # normalised characters in common
    prints: tuple[CodeFingerprint, CodeFingerprint]

    def segments(self) -> tuple[list[Segment], list[Segment]]:
        """Both own codes cut into matched and unmatched pieces (the side-by-side view)."""
        _, _, slices = compare_files(*self.prints)
        return (_segments(self.prints[0].raw_code, slices[0]),
                _segments(self.prints[1].raw_code, slices[1]))


def own_code(source: str) -> str:
    """The student's code: the solution regions' lines, or the whole file."""
    found = regions(source)
    if not found:
        return source
    lines = source.splitlines()
    return "\n".join("\n".join(lines[first:last - 1]) for first, last in found) + "\n"


def _fingerprint(code: str, boilerplate: np.ndarray) -> CodeFingerprint:
    return CodeFingerprint(SOURCE_NAME, NOISE_CHARACTERS,
                           GUARANTEE_CHARACTERS - NOISE_CHARACTERS + 1,
                           boilerplate=boilerplate, fp=io.StringIO(code))


def _segments(code: str, slices: np.ndarray) -> list[Segment]:
    """``code`` cut into matched and unmatched pieces."""
    pieces, position = [], 0
    for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist())) if len(slices) else []:
        start, end = max(start, position), min(end, len(code))
        if start > position:
            pieces.append(Segment(code[position:start], False))
        if end > start:
            pieces.append(Segment(code[start:end], True))
            position = end
    if position < len(code):
        pieces.append(Segment(code[position:], False))
    return pieces


def _screened(first: frozenset[int], second: frozenset[int], threshold: float) -> bool:
    """A fast screen before copydetect's comparison: enough fingerprints in common (half
    the threshold's share, so no pair over the threshold is screened out in practice)."""
    shared = len(first & second)
    return shared > 0 and shared >= threshold / 2 * min(len(first), len(second))


def similar_pairs(sources: dict[str, str], template: str, threshold: float,
                  min_overlap: int) -> list[SimilarPair]:
    """Every pair of ``sources`` (student -> file text) over the threshold, most alike first.

    Students whose normalised own code is the same are compared once, as a group."""
    boilerplate = np.array(sorted(_fingerprint(template, np.array([], dtype=np.int64)).hashes),
                           dtype=np.int64)
    codes = {student: own_code(source) for student, source in sources.items()}
    prints = {student: _fingerprint(code, boilerplate) for student, code in codes.items()
              if code.strip()}
    groups: dict[str, list[str]] = {}
    for student in sorted(prints):
        groups.setdefault(prints[student].filtered_code, []).append(student)
    leaders = [members[0] for members in groups.values()]
    hashes = {student: frozenset(prints[student].hashes) for student in leaders}
    pairs = []
    compared = [(leader, leader) for leader in leaders] + [
        (first, second) for first, second in itertools.combinations(leaders, 2)
        if _screened(hashes[first], hashes[second], threshold)]
    for first_leader, second_leader in compared:
        overlap, similarities, _ = compare_files(prints[first_leader], prints[second_leader])
        similarity = float(max(similarities))
        if overlap < min_overlap or similarity < threshold:
            continue
        first_group = groups[prints[first_leader].filtered_code]
        second_group = groups[prints[second_leader].filtered_code]
        members = itertools.combinations(first_group, 2) if first_leader == second_leader \
            else itertools.product(first_group, second_group)
        for first, second in members:
            shares = (float(similarities[0]), float(similarities[1]))
            if first > second:
                first, second, shares = second, first, shares[::-1]
            pairs.append(SimilarPair(first, second, similarity, shares, int(overlap),
                                     (prints[first], prints[second])))
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.first, pair.second))
