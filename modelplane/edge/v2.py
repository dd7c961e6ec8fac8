"""Open Inference Protocol (V2) names used on the wire by every part, and the one reading of
a request's `timeout` parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Binary tensor extension: the length of the JSON header that precedes the raw tensor bytes.
HEADER_LENGTH = "inference-header-content-length"
HEADER_LENGTH_BYTES = HEADER_LENGTH.encode()

JSON = b"application/json"
OCTET_STREAM = b"application/octet-stream"

# Triton's reserved request parameter: the request's own time limit, in microseconds (0: none).
TIMEOUT_PARAMETER = "timeout"


def timeout_seconds(parameters: Mapping[str, Any] | None) -> float | None:
    """A request's `timeout` parameter in seconds, or None when it asks for none; ValueError
    naming the parameter when it is not a whole number of microseconds."""
    micros = (parameters or {}).get(TIMEOUT_PARAMETER)
    if micros is None:
        return None
    if isinstance(micros, bool) or not isinstance(micros, int) or micros < 0:
        raise ValueError(
            f"parameters.{TIMEOUT_PARAMETER} must be a whole number of microseconds (0: none), "
            f"not {micros!r}"
        )
    return micros / 1e6 if micros else None
