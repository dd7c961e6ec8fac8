"""What the two HTTP/1.1 servers, `h1server` (asyncio) and `h1threads` (a thread per
connection), decide the same way from a request's head, as pure functions: its decoded path
and query, whether the server refuses it (and with what), whether the client waits for
``100 Continue``, the ``connection`` header of its answer, and the bytes of a refusal; and
the options both take (`ServerOptions`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict
from urllib.parse import unquote

import httptools
from typing_extensions import Unpack

from modelplane.edge.errors import too_large
from modelplane.edge.h1wire import Headers, json_error, response
from modelplane.edge.keepalive import KEEP_ALIVE_SECONDS
from modelplane.edge.limit_settings import HEADER_TIMEOUT, MAX_HEADER_SIZE

MAX_BODY = 64 * 1024 * 1024
ErrorBody = Callable[[int, str], bytes]

Refusal = tuple[int, str]
"""A status and a message the server answers itself (in the app's error format), then closes."""

UPGRADE: Refusal = (400, "protocol upgrades are not supported")
MALFORMED: Refusal = (400, "malformed HTTP request")
JSON: Headers = [(b"content-type", b"application/json")]


class Limits(TypedDict, total=False):
    """What both servers take besides their handler (defaults in `ServerOptions`): the
    limits (`limit_settings` gives them flags), the error format of the server's own refusals
    (``error_body(status, message)``) and the keep-alive."""

    max_body: int
    error_body: ErrorBody
    keep_alive: float
    max_header_size: int
    header_timeout: float
    max_connections: int  # 0: no limit


class ServerOptions:
    """Both servers' options, defaults filled in, and whether they are closing."""

    def __init__(self, **limits: Unpack[Limits]) -> None:
        self.max_body = limits.get("max_body", MAX_BODY)
        self.error_body = limits.get("error_body", json_error)
        self.keep_alive = limits.get("keep_alive", KEEP_ALIVE_SECONDS)
        self.max_header_size = limits.get("max_header_size", MAX_HEADER_SIZE)
        self.header_timeout = limits.get("header_timeout", HEADER_TIMEOUT)
        self.max_connections = limits.get("max_connections", 0)
        self.closing = False


class HeadReader:
    """httptools callbacks that collect a request's head under `max_header_size` (both
    servers): its target, its headers (names in lower case) and its size so far. Past the
    limit the parser is stopped; `parse_failure` then answers 431."""

    max_header_size: int

    def __init__(self, max_header_size: int) -> None:
        self.max_header_size = max_header_size
        self.url = b""
        self.headers: Headers = []
        self.head_size = 0

    def begin_head(self) -> None:
        """A new request's head begins."""
        self.url = b""
        self.headers = []
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_size += len(url)
        if self.head_size > self.max_header_size:
            raise httptools.HttpParserError("head too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))
        self.head_size += len(name) + len(value) + 4
        if self.head_size > self.max_header_size:
            raise httptools.HttpParserError("head too large")


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
