"""What a student sent, as the grader grades it: ``solution.py``, a notebook, or a zip.

Students upload what they have: the Python file, the notebook they worked in,
a zip of their folder. A notebook is graded from its code cells (read with
nbformat; IPython magics are commented out) joined into one ``solution.py``, a
zip from the one ``solution.py`` (or notebook) it holds; both with a warning
that says so. What the grader says of a line of a notebook's joined code
(tracebacks, syntax errors, the given-code warnings) is told as "cell N, line M"
(``cite_cells``), cells counted from 1 in notebook order, Markdown cells
included, as the student sees them.
Anything else (a binary, an empty file, a zip with several candidates) is
refused with one message naming what was received and what is expected.
The file is read as a regular file of bounded size: never a pipe or a device.
A file in another encoding that says so on its coding line (PEP 263: Russian
comments in cp1251) is read as Python reads it, and graded as UTF-8.
"""
from __future__ import annotations

import io
import os
import re
import stat
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_SOURCE_BYTES = 1 << 20       # solution.py, or the code of a notebook
MAX_UPLOAD_BYTES = 20 << 20      # a notebook with outputs, a zip
EXPECTED = "expected solution.py (a notebook or a zip holding it is accepted too)"
SIGNATURES = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
              (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip archive"),
              (b"\x7fELF", "a Linux executable"), (b"Rar!", "a RAR archive"),
              (b"7z\xbc\xaf", "a 7-Zip archive"),
              (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"))
MAGIC = re.compile(r"^(\s*)([%!].*)$")
CODING_LINE = re.compile(r"^([ \t\f]*#.*?coding[:=][ \t]*)([-\w.]+)")  # PEP 263
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
NEWLINE = re.compile(r"\r\n|\r|\n")  # Python's line ends, as its line numbers count them
# the grader's citations of a line of solution.py: a traceback's frames (a syntax error's too),
# and "at line N" or "on line N" (the given-code warnings, syntax errors); not the template's
CITED_LINE = re.compile(r'(File "[^"\n]*solution\.py", )line (\d+)'
                        r"|\b(?:at|on) line (\d+)\b(?! of the template)")


class SubmissionError(Exception):
    """The submission cannot be graded; the message says what came and what is expected."""


LineMap = dict[int, tuple[int, int]]  # a line of the joined code -> (cell, line in the cell)


@dataclass
class Submission:
    source: bytes
    origin: str                       # what was graded, in words
    warnings: list[str] = field(default_factory=list)
    line_map: LineMap | None = None   # a notebook's: where each line of ``source`` came from


def cite_cells(text: str, line_map: LineMap | None) -> str:
    """``text`` with its citations of lines of the joined code told as the notebook's "cell N,
    line M" (a line between two cells keeps its number); unchanged without a ``line_map``."""
    if not line_map:
        return text

    def cited(match: re.Match) -> str:
        frame, number = match.group(1), int(match.group(2) or match.group(3))
        if number not in line_map:
            return match.group()
        cell, line = line_map[number]
        return f"{frame}cell {cell}, line {line}" if frame else f"in cell {cell}, line {line}"

    return CITED_LINE.sub(cited, text)


def _read(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise SubmissionError(f"submission {path} does not exist") from None
    except OSError as error:
        raise SubmissionError(f"submission {path} cannot be read: {error.strerror}") from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise SubmissionError(f"submission {path} is not a file; {EXPECTED}")
    with os.fdopen(descriptor, "rb") as stream:
        if info.st_size > MAX_UPLOAD_BYTES:
            raise SubmissionError(f"submission {path} is {info.st_size} bytes, at most "
                                  f"{MAX_UPLOAD_BYTES}; {EXPECTED}")
        return stream.read(MAX_UPLOAD_BYTES + 1)


def _is_notebook(data: bytes) -> bool:
    head = data.lstrip()[:4096]
    return head.startswith(b"{") and b'"cells"' in data and b'"nbformat"' in data


def _notebook_code(data: bytes, name: str) -> Submission:
    import nbformat

    try:
        notebook = nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception as error:  # nbformat raises several kinds of errors
        raise SubmissionError(f"{name} looks like a notebook but cannot be read ({error})") \
            from None
    cells = [(number, cell.source) for number, cell in enumerate(notebook.cells, start=1)
             if cell.cell_type == "code"]
    if not any(source.strip() for _, source in cells):
        raise SubmissionError(f"{name} is a notebook without code; {EXPECTED}")
    magics = 0
    lines: list[str] = []
    line_map: LineMap = {}
    for number, source in cells:
        if lines:
            lines.append("")  # a blank line between two cells
        for in_cell, line in enumerate(NEWLINE.split(source), start=1):
            match = MAGIC.match(line)
            if match:
                magics += 1
                line = f"{match.group(1)}# (IPython, not graded) {match.group(2)}"
            lines.append(line)
            line_map[len(lines)] = (number, in_cell)
    warnings = [f"graded from the {len(cells)} code cells of the notebook {name}; "
                "submit solution.py itself next time"]
    if magics:
        warnings.append(f"{magics} IPython command line(s) (% or !) were commented out")
    source = ("\n".join(lines) + "\n").encode("utf-8")
    return Submission(source, f"the code cells of {name}", warnings, line_map)


def _from_zip(data: bytes, name: str) -> Submission:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as error:
        raise SubmissionError(f"{name} is a damaged zip archive ({error}); {EXPECTED}") from None
    usable = [info for info in members if not (set(PurePosixPath(info.filename).parts)
                                              & {"__MACOSX", ".ipynb_checkpoints"})
              and not PurePosixPath(info.filename).name.startswith("._")]
    for wanted in ("solution.py", "solution.ipynb"):
        found = [info for info in usable if PurePosixPath(info.filename).name == wanted]
        if len(found) > 1:
            raise SubmissionError(f"{name} holds {len(found)} files named {wanted} "
                                  f"({', '.join(info.filename for info in found)}): keep one")
        if found:
            if found[0].file_size > MAX_UPLOAD_BYTES:
                raise SubmissionError(f"{found[0].filename} in {name} is too large")
            inner = archive.read(found[0])
            graded = _from_bytes(inner, f"{found[0].filename} (from {name})")
            graded.warnings.insert(0, f"graded {found[0].filename} from the zip {name}")
            return graded
    listed = ", ".join(info.filename for info in usable[:10]) or "nothing"
    raise SubmissionError(f"{name} holds no solution.py (it holds {listed}); {EXPECTED}")


def _from_bytes(data: bytes, name: str) -> Submission:
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _from_zip(data, name)
    for signature, what in SIGNATURES:
        if data.startswith(signature):
            raise SubmissionError(f"{name} is {what}, not Python code; {EXPECTED}")
    if _is_notebook(data):
        return _notebook_code(data, name)
    if not data.strip():
        raise SubmissionError(f"{name} is empty; {EXPECTED}")
    if data.startswith(UTF16_MARKS):
        raise SubmissionError(f"{name} is UTF-16 text; save it as UTF-8; {EXPECTED}")
    if b"\0" in data:
        raise SubmissionError(f"{name} is a binary file, not Python code; {EXPECTED}")
    if len(data) > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{name} is {len(data)} bytes of code, at most {MAX_SOURCE_BYTES}")
    return _as_utf8(data, name)


def _as_utf8(data: bytes, name: str) -> Submission:
    """The code as UTF-8. Python reads a file in the encoding its coding line declares, so
    the grader does too; that line is rewritten in place (line numbers stay)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:  # an unknown encoding declared, or one against the BOM
        raise SubmissionError(f"{name}: {error}; save it as UTF-8; {EXPECTED}") from None
    try:
        text = data.decode("utf-8-sig" if encoding.startswith("utf-8") else encoding)
    except UnicodeDecodeError as error:
        said = "UTF-8" if encoding.startswith("utf-8") else f"{encoding} (as its coding line says)"
        raise SubmissionError(f"{name} is not {said} text (byte {error.start}); save it as "
                              f"UTF-8; {EXPECTED}") from None
    if encoding.startswith("utf-8"):
        return Submission(data, name)
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines[:2]):
        lines[number] = CODING_LINE.sub(r"\g<1>utf-8", line, count=1)
    return Submission("".join(lines).encode("utf-8"), name,
                      [f"{name} is {encoding} text (its coding line says so); graded as UTF-8"])


def read_submission(path: Path) -> Submission:
    """The code to grade in ``path``; ``SubmissionError`` says why there is none."""
    path = Path(path)
    return _from_bytes(_read(path), path.name)
