"""What the two HTTP/1.1 servers, `h1server` (asyncio) and `h1threads` (a thread per
connection), decide the same way from a request's head, as pure functions: its decoded path
and query, whether the server refuses it (and with what), whether the client waits for
``100 Continue``, the ``connection`` header of its answer, and the bytes of a refusal."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

import httptools

from modelplane.edge.errors import too_large
from modelplane.edge.h1wire import Headers, response

Refusal = tuple[int, str]
"""A status and a message the server answers itself (in the app's error format), then closes."""

UPGRADE: Refusal = (400, "protocol upgrades are not supported")
MALFORMED: Refusal = (400, "malformed HTTP request")
JSON: Headers = [(b"content-type", b"application/json")]


def target(url: bytes) -> tuple[str, bytes]:
    """A request target's percent-decoded path ("/" when it has none) and raw query."""
    parsed = httptools.parse_url(url)
    raw = parsed.path or b"/"
    path = unquote(raw.decode("latin-1")) if b"%" in raw else raw.decode("latin-1")
    return path, parsed.query or b""


def judge(
    headers: Headers, max_body: int, *, over_limit: int = 0, upgrade: bool = False
) -> tuple[Refusal | None, bool]:
    """A request's refusal from its head (None: serve it), and whether its client waits for
    ``100 Continue``. `over_limit`: the connection limit this request's connection is beyond
    (0: within it), answered 503; then an upgrade, 400; then a declared length over
    `max_body`, 413."""
    refusal: Refusal | None = None
    if over_limit:
        refusal = (503, f"too many connections: this server serves at most {over_limit}")
    elif upgrade:
        refusal = UPGRADE
    expect = False
    for name, value in headers:
        if name == b"content-length":
            if value.isdigit() and int(value) > max_body and refusal is None:
                refusal = (413, too_large(max_body, int(value)))
        elif name == b"expect" and value.lower() == b"100-continue":
            expect = True
    return refusal, expect


def parse_failure(head_size: int, max_header_size: int) -> Refusal:
    """The refusal of a request the parser rejected: its head too large (431), or malformed."""
    if head_size > max_header_size:
        return 431, f"request head exceeds the limit of {max_header_size} bytes"
    return MALFORMED


def head_late(header_timeout: float) -> Refusal:
    """The refusal of a head not whole `header_timeout` seconds after its first byte."""
    return 408, f"request head not received within {header_timeout:g} s"


def close_flag(keep: bool, http10: bool) -> bool | None:
    """`response`'s `close`: True to close, None to tell an HTTP/1.0 client it is kept."""
    return None if keep and http10 else not keep


def refusal_bytes(refusal: Refusal, error_body: Callable[[int, str], bytes]) -> bytes:
    """A refusal's whole answer, with ``connection: close``."""
    status, message = refusal
    return response(status, JSON, error_body(status, message), False, True)
