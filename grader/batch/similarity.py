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

from grader.modification import regions

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
    first_code: list[Segment]
    second_code: list[Segment]


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


def similar_pairs(sources: dict[str, str], template: str, threshold: float,
                  min_overlap: int) -> list[SimilarPair]:
    """Every pair of ``sources`` (student -> file text) over the threshold, most alike first."""
    boilerplate = np.array(sorted(_fingerprint(template, np.array([], dtype=np.int64)).hashes),
                           dtype=np.int64)
    codes = {student: own_code(source) for student, source in sources.items()}
    prints = {student: _fingerprint(code, boilerplate) for student, code in codes.items()
              if code.strip()}
    pairs = []
    for first, second in itertools.combinations(sorted(prints), 2):
        overlap, similarities, slices = compare_files(prints[first], prints[second])
        similarity = float(max(similarities))
        if overlap >= min_overlap and similarity >= threshold:
            pairs.append(SimilarPair(first, second, similarity,
                                     (float(similarities[0]), float(similarities[1])),
                                     int(overlap), _segments(codes[first], slices[0]),
                                     _segments(codes[second], slices[1])))
    return sorted(pairs, key=lambda pair: (-pair.similarity, pair.first, pair.second))
