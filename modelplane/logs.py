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
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure(level: str, log_format: LogFormat = "json") -> None:
    """Send every logger (uvicorn's too) through one handler on stderr, JSON or plain."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
