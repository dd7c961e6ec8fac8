"""One logging setup for every modelplane process: JSON lines on stderr, plain text on request."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Literal

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LogFormat = Literal["json", "plain"]

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# kopf's object loggers pass these extras: the object a line is about, and two of its own
_OBJECT = "k8s_ref"
_DROPPED = frozenset({"settings", "k8s_skip"})


class LoggingSettings(BaseSettings):
    """The two logging flags every process takes (mixed into its settings)."""

    log_level: LogLevel = Field(default="info", description="the least severe level logged")
    log_format: LogFormat = Field(
        default="json", description="json: one object per line; plain: text for people"
    )


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; `extra={...}` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key == _OBJECT:
                doc["object"] = value
            elif key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


class PlainFormatter(logging.Formatter):
    """Text for people; a line about a Kubernetes object (kopf's) starts with [namespace/name]."""

    def __init__(self) -> None:
        super().__init__(PLAIN)

    def formatMessage(self, record: logging.LogRecord) -> str:
        text = super().formatMessage(record)
        ref = getattr(record, _OBJECT, None)
        if isinstance(ref, dict) and ref.get("name"):
            where = "/".join(str(ref[k]) for k in ("namespace", "name") if ref.get(k))
            return f"{text} [{where}]"
        return text


def configure(level: str, log_format: LogFormat = "json") -> None:
    """Send every logger (uvicorn's and kopf's too) through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
