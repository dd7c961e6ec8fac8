"""Connection-level limits of the HTTP edge: request-head size, time to send the head, connections.

uvicorn's httptools protocol has none of the first two (a client may trickle a head forever,
or send megabytes of headers), and its `limit_concurrency` answers plain text and counts
tasks too. `with_limits` wraps any httptools protocol class so that, per worker:

- a request head (request line and headers) larger than `max_header_size` bytes gets 431;
- a head not fully received `header_timeout` seconds after its first byte gets 408
  (checked a few times per timeout, so within 1.25 timeouts);
- a connection beyond `max_connections` open ones gets 503 to its first request;

each as a JSON `{"error": ...}` body with `connection: close`, after which the connection is
closed. A connection with no request in progress (new, or kept alive between requests) is
closed silently after `keep_alive_timeout`, never answered a 408 it did not ask for: a proxy
in front pools idle connections (Go's transport, under Traefik, dials spares that may sit
unused), and a request it sends on one the server is closing is lost. Why the timeout is long
is `modelplane.edge.keepalive`'s; `max_connections` bounds what silent connections can hold.
`limit_settings.EdgeLimitSettings` gives each limit its flag (and MODELPLANE_* variable).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelplane.edge.limit_settings import EdgeLimitSettings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class _Limited(HttpToolsProtocol):
    """The limits, over uvicorn's httptools protocol (set `_limits` on a subclass).

    A head's start time is kept per connection and checked by one sweep per server every
    `_SWEEPS`-th of the timeout, rather than by a timer per request: the hot path only
    stores and clears a number.
    """

    _limits: EdgeLimitSettings
    _sweeping = False  # per subclass, so per server: whether its sweep is scheduled
    _head_since: float | None = None  # loop time the head in progress began
    _silent_since: float | None = None  # loop time a new connection opened, until a byte came
    _head_bytes = 0
    _rejection: tuple[int, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self._limits.max_connections
        if limit and len(self.connections) > limit:
            # Answer the first request with 503 instead of running the app for it.
            self.app = _unavailable(limit)
        self._silent_since = self.loop.time()
        cls = type(self)
        if not cls._sweeping:
            cls._sweeping = True
            self.loop.call_later(self._interval(), _sweep, cls, self.loop, self.connections)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._silent_since = None
        self._head_bytes = 0
        if self._head_since is None:
            self._head_since = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        if self._head_bytes > self._limits.max_header_size:
            self._too_large()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_bytes > self._limits.max_header_size:
            self._too_large()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_since = None
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with 400; a head refused by a limit says so.
        if self._rejection is None:
            super().send_400_response(msg)
            return
        status, text = self._rejection
        self._reject(status, text)

    def _too_large(self) -> None:
        if self._rejection is None:
            limit = self._limits.max_header_size
            self._rejection = (431, f"request head exceeds the limit of {limit} bytes")
        raise _HeadRefused  # stops the parser; uvicorn then calls send_400_response

    def _interval(self) -> float:
        return self._limits.header_timeout / _SWEEPS

    def _head_late(self, now: float) -> bool:
        """Refuse the head in progress when it began `header_timeout` ago or more; close a
        new connection that has sent nothing for `keep_alive_timeout` (silently: no request,
        no answer). Between requests, uvicorn's own keep-alive timer does the same."""
        silent = self._silent_since
        if silent is not None and now - silent >= self._limits.keep_alive_timeout:
            self._silent_since = None
            self.transport.close()
            return True
        since = self._head_since
        if since is None or now - since < self._limits.header_timeout:
            return False
        self._head_since = None
        self._reject(408, f"request head not received within {self._limits.header_timeout:g} s")
        return True

    def _reject(self, status: int, message: str) -> None:
        if self.transport.is_closing():
            return
        body = orjson.dumps({"error": message})
        head = (
            f"HTTP/1.1 {status} ".encode()
            + _REASONS[status]
            + b"\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\nconnection: close\r\n\r\n"
        )
        self.transport.write(head + body)
        self.transport.close()


_SWEEPS = 4  # checks per header timeout: a slow head is cut off within 1.25 timeouts


def _sweep(cls: type[_Limited], loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
    """Cut off every head in progress for too long; again later while connections remain."""
    now = loop.time()
    for connection in list(connections):
        if isinstance(connection, _Limited):
            connection._head_late(now)
    if connections:
        interval = cls._limits.header_timeout / _SWEEPS
        loop.call_later(interval, _sweep, cls, loop, connections)
    else:
        cls._sweeping = False  # the next connection starts it again


class _HeadRefused(Exception):
    """Raised inside a parser callback to stop parsing a head that broke a limit."""


def _unavailable(limit: int) -> Any:
    body = orjson.dumps({"error": f"too many connections: this worker serves at most {limit}"})

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def with_limits(
    protocol: type[HttpToolsProtocol], limits: EdgeLimitSettings
) -> type[HttpToolsProtocol]:
    """`protocol` (uvicorn's httptools protocol or a subclass) with `limits` enforced."""
    name = f"Limited{protocol.__name__}"
    return type(name, (_Limited, protocol), {"_limits": limits})
