"""The router's one error format, ``{"error", "cause", "step"}``, and outcomes that carry it.

Every non-2xx answer the router gives has this body. An upstream's own error is wrapped with
its status kept and its message as the cause; an error already in this format (a nested
router's) passes through unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from modelplane.router.payload import JSON_TYPE, Payload

JSON = JSON_TYPE
_MAX_CAUSE = 2000


@dataclass(slots=True)
class Outcome:
    """What a step or node produced: a status and a body (a response, or an error document)."""

    status: int
    payload: Payload
    fatal: bool = False  # the overall deadline passed: no dependency rule can carry on
    soft_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300


def error_document(error: str, cause: str, step: str | None) -> dict[str, Any]:
    """The error body as a value."""
    return {"error": error, "cause": cause, "step": step}


def failure(
    status: int, error: str, cause: str, step: str | None, *, fatal: bool = False
) -> Outcome:
    """An outcome carrying an error in the router's format."""
    return Outcome(status, Payload.of(error_document(error, cause, step)), fatal=fatal)


def upstream_failure(status: int, body: bytes, step: str) -> Outcome:
    """A non-2xx answer from a step's upstream, wrapped (or passed through if already ours)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and {"error", "cause", "step"} <= document.keys():
        return Outcome(status, Payload(body, document))
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        cause = document["error"]
    else:
        cause = body.decode("utf-8", "replace")
    return failure(status, f"step {step} failed with status {status}", cause[:_MAX_CAUSE], step)
