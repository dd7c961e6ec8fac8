"""The bytes of an HTTP/1.1 response, for `modelplane.edge.h1server`: one status line per
status, the ``date`` line formatted once a second, a whole response framed in one buffer, the
default body of the server's own refusals, and a request header's value."""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus

Headers = list[tuple[bytes, bytes]]


def header_value(headers: Headers, name: bytes) -> str | None:
    """The first value of a header (`name` in lower case, as the edge and ASGI servers give
    names), or None."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def json_error(status: int, message: str) -> bytes:
    """The default refusal body: ``{"error": message}``."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    return b'{"error":"' + escaped.encode() + b'"}'


_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}


class Date:
    """The ``date`` header line, formatted at most once a second."""

    second = 0
    line = b""

    @classmethod
    def now(cls) -> bytes:
        second = int(time.time())
        if second != cls.second:
            cls.second = second
            cls.line = b"date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        return cls.line


def response(status: int, headers: Headers, body: bytes, head: bool, close: bool | None) -> bytes:
    """One response's bytes: status line, headers, length, date, connection, body."""
    lines = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status]
    for name, value in headers:
        lines += (name, b": ", value, b"\r\n")
    if status >= 200 and status not in (204, 304):  # RFC 9110: those have no content-length
        lines.append(b"content-length: %d\r\n" % len(body))
    lines.append(Date.now())
    if close:
        lines.append(b"connection: close\r\n")
    elif close is None:  # an HTTP/1.0 client keeps the connection only when told so
        lines.append(b"connection: keep-alive\r\n")
    lines.append(b"\r\n")
    if not head:
        lines.append(body)
    return b"".join(lines)
