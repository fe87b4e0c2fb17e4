"""Logging: human-readable on a TTY, JSON lines otherwise; every line is redacted."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

from agentd.redaction import REDACTOR

LOGGER_NAME = "agentd"
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return REDACTOR.redact(json.dumps(payload, default=str, sort_keys=False))


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = _extras(record)
        # A progress event's message already says it all; its fields are for JSON readers.
        if extras and "event" not in extras:
            text += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return REDACTOR.redact(text)


def configure_logging(
    fmt: Literal["auto", "human", "json"] = "auto",
    level: str = "INFO",
    stream: TextIO | None = None,
) -> None:
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "human" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(HumanFormatter() if fmt == "human" else JsonFormatter())
    root = logging.getLogger(LOGGER_NAME)
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
