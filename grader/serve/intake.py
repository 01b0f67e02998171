"""What an upload must be before it is stored: small enough, and no zip bomb.

The size limit is enforced while the body streams in (``LimitUploads``, outside the
app): a declared ``Content-Length`` over the limit is refused before any byte is read,
and a body without one is cut off as soon as it passes the limit; both are a 413.
Everything else (Python or not, a notebook, what a zip holds) is decided by the grading
(``grader.submission.read_submission``, in the worker), which reports it to the student.
A zip is opened here only to make sure its entries do not unpack to more than the
grader reads: compressed bytes are counted as they are inflated, never all at once.
"""
from __future__ import annotations

import io
import time
import unicodedata
import zipfile
from collections.abc import Awaitable, Callable

from grader.serve.course import MAX_UPLOAD_MB

MULTIPART_OVERHEAD = 64 * 1024    # the form's other fields and the part headers
MAX_UNPACKED = MAX_UPLOAD_MB << 20
CHUNK = 1 << 16

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class UploadRefused(Exception):
    """The upload is not stored; the message tells the student why."""


class _TooLarge(Exception):
    pass


class LimitUploads:
    """ASGI wrapper: POST bodies over ``limit()`` bytes get a 413, read no further."""

    def __init__(self, app: Callable, limit: Callable[[], int]) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        limit = self.limit() + MULTIPART_OVERHEAD
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _refuse(send, limit)
        received, started, exceeded = 0, False, False

        async def counted() -> dict:
            nonlocal received, exceeded
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                exceeded = True
                raise _TooLarge()
            return message

        async def watched(message: dict) -> None:
            nonlocal started
            if exceeded:
                return  # the app's error page for the cut-off body: the 413 replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:  # the cut-off body, however the app's layers passed it on
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = (f"413: the upload is larger than the {limit - MULTIPART_OVERHEAD} bytes this "
            "course accepts\n").encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def shown_name(name: str | None) -> str:
    """The file name as pages show it: its last component, printable, at most 120 chars.
    It names nothing on disk (a worker grades a copy under a name of its own)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return base[:120] or "upload"


def check_upload(data: bytes, limit: int) -> None:
    """``UploadRefused`` for an empty file, one over ``limit`` or a zip that unpacks to more
    than the grader reads."""
    if not data:
        raise UploadRefused("the file is empty: choose your solution.py")
    if len(data) > limit:
        raise UploadRefused(f"the file is {len(data)} bytes, at most {limit}")
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _check_zip(data)


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError) as error:
        raise UploadRefused(f"the zip archive is damaged ({error})") from None
    if len(members) > 1000:
        raise UploadRefused(f"the zip holds {len(members)} files: send solution.py alone")
    if sum(info.file_size for info in members) > MAX_UNPACKED:
        raise UploadRefused(f"the zip unpacks to more than {MAX_UNPACKED} bytes (a zip bomb?): "
                            "send solution.py alone")
    deadline = time.monotonic() + 5
    for info in members:  # sizes in the headers can lie: count what inflates
        unpacked = 0
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    unpacked += len(chunk)
                    if unpacked > MAX_UNPACKED or time.monotonic() > deadline:
                        raise UploadRefused("the zip unpacks to more than the grader reads "
                                            "(a zip bomb?): send solution.py alone")
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError,
                EOFError) as error:
            raise UploadRefused(f"the zip archive cannot be read ({error})") from None
