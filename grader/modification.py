"""Find changes to the given code: everything outside the ``# Your code here`` regions.

The assignment says solutions with changed given code may not be accepted; the
grader reports such changes as warnings naming the lines (or fails the
submission when the grading policy says so).
"""
from __future__ import annotations

import difflib
import re

BEGIN_MARKER = re.compile(r"#\s*your code here\s*\\/", re.IGNORECASE)
END_MARKER = re.compile(r"#\s*your code here\s*/\\", re.IGNORECASE)
MAX_REPORTED = 10


def given_code(source: str) -> list[tuple[int, str]] | None:
    """Numbered non-blank lines outside the solution regions; None if markers do not pair up."""
    lines, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN_MARKER.search(line):
            if inside:
                return None
            inside = True
        elif END_MARKER.search(line):
            if not inside:
                return None
            inside = False
        elif not inside and line.strip():
            lines.append((number, line.rstrip()))
    return None if inside else lines


def check_modifications(submission: str, reference: str) -> list[str]:
    """Warnings naming the submission's lines where given code differs from the template."""
    expected, actual = given_code(reference), given_code(submission)
    if actual is None:
        return ["the '# Your code here \\/' ... '# Your code here /\\' markers are missing or "
                "unbalanced, so changes to the given code could not be checked"]
    matcher = difflib.SequenceMatcher(a=[text for _, text in expected],
                                      b=[text for _, text in actual], autojunk=False)
    warnings = []
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        if b_start < b_end:
            first, last = actual[b_start][0], actual[b_end - 1][0]
            where = f"line {first}" if first == last else f"lines {first}-{last}"
            shown = actual[b_start][1].strip()
            verb = "added" if tag == "insert" else "changed"
            warnings.append(f"given code {verb} outside the solution regions at {where}: {shown!r}")
        else:
            anchor = actual[b_start - 1][0] if b_start > 0 else 1
            warnings.append(f"given code removed after line {anchor}: "
                            f"{expected[a_start][1].strip()!r}")
    if len(warnings) > MAX_REPORTED:
        warnings = warnings[:MAX_REPORTED] + [f"... and {len(warnings) - MAX_REPORTED} more changes"]
    return warnings
