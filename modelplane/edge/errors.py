"""What reading a request body can raise; each part answers these in its own error format.

BodyRejected            400  the body cannot be read as sent
├── BadEncoding         400  the body does not inflate in its content-encoding (or is cut)
│   └── UnsupportedEncoding  415  a content-encoding this server does not take (the answer
│                                 says which it takes: `Accept-Encoding`, RFC 9110 15.5.16)
└── BodyTooLarge        413  over the size limit: as declared, as sent, or once inflated
ClientDisconnected      -    the client left before its whole body arrived (nobody to answer)
"""

from __future__ import annotations


class BodyRejected(Exception):
    """The request body cannot be read as sent; `summary` is a one-line title for answers."""

    status = 400
    summary = "request body cannot be read"


class BadEncoding(BodyRejected):
    """The content-encoding is not supported, or the body is not valid in it."""

    summary = "request body cannot be decoded"


class UnsupportedEncoding(BadEncoding):
    """The content-encoding is not one this server takes."""

    status = 415
    summary = "request body content-encoding not supported"


class BodyTooLarge(BodyRejected):
    """The body (declared, received, or inflated) is larger than the limit."""

    status = 413
    summary = "request body too large"


class ClientDisconnected(Exception):
    """The client went away before sending its whole body."""


def too_large(limit: int, declared: int | None = None) -> str:
    """BodyTooLarge's message: the declared size when the body was refused unread."""
    if declared is not None:
        return f"request body of {declared} bytes exceeds the limit of {limit}"
    return f"request body exceeds the limit of {limit} bytes"
