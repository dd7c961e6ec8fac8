"""Open Inference Protocol (V2) names used on the HTTP wire by every part."""

from __future__ import annotations

# Binary tensor extension: the length of the JSON header that precedes the raw tensor bytes.
HEADER_LENGTH = "inference-header-content-length"
HEADER_LENGTH_BYTES = HEADER_LENGTH.encode()

JSON = b"application/json"
OCTET_STREAM = b"application/octet-stream"
