"""Structured logs: one JSON object a line on stderr (journald and ``docker logs`` keep
them), with the event's fields next to the message."""
from __future__ import annotations

import json
import logging
import sys
import time

LOGGER = "grader.serve"
STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                 + f".{int(record.msecs):03d}Z", "level": record.levelname.lower(),
                 "logger": record.name, "message": record.getMessage()}
        entry.update((key, value) for key, value in vars(record).items()
                     if key not in STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup(level: int = logging.INFO) -> logging.Logger:
    """The service's logger, writing JSON lines to stderr (once per process)."""
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    return logger
