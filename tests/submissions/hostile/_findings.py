# Prepended to every tail: how an attack reports what it saw. The attacked section raises
# Findings; the test reads the JSON back from that section's message.
import ctypes as _ctypes
import errno as _errno
import json as _json
import os as _os


class Findings(Exception):
    pass


def findings(**seen):
    raise Findings("FINDINGS " + _json.dumps(seen, sort_keys=True, default=str))


def _outcome(function, *args):
    """'ok' or the error's name: what a system call attempt gave."""
    try:
        result = function(*args)
    except OSError as error:
        return _errno.errorcode.get(error.errno, str(error.errno))
    return "ok" if result in (None, 0) or not isinstance(result, int) else f"returned {result}"


_libc = _ctypes.CDLL(None, use_errno=True)


def _syscall_outcome(result):
    if result == -1:
        return _errno.errorcode.get(_ctypes.get_errno(), str(_ctypes.get_errno()))
    return "ok"
