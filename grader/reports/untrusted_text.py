"""Text from a submission is shown, never interpreted.

Everything a submission controls (what it printed, exception texts, names it
gave) passes through ``shown`` before it enters a report: control characters
(terminal escapes, carriage returns, NUL, C1), bidirectional and invisible
formatting characters, lone surrogates and the code points XML forbids become
visible escapes such as ``\\x1b``. Only newlines and tabs stay. The result is
safe in a terminal, in XML and in JSON, and escaping it again changes nothing.
"""
from __future__ import annotations

import re

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                    "\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def as_displayed(output: str) -> str:
    """What a terminal would have left of ``output``: each line's text after its last carriage
    return, so a progress bar that redraws itself keeps only its last state."""
    lines = (line.rsplit("\r", 1)[-1] for line in output.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line.strip())


def shown(text: str) -> str:
    """``text`` with every character that could act on a terminal or a parser escaped."""
    return UNSAFE.sub(_escape, text)
