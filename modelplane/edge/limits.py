"""Connection-level limits of the HTTP edge: request-head size, time to send the head, connections.

uvicorn's httptools protocol has none of the first two (a client may trickle a head forever,
or send megabytes of headers), and its `limit_concurrency` answers plain text and counts
tasks too. `with_limits` wraps any httptools protocol class so that, per worker:

- a request head (request line and headers) larger than `max_header_size` bytes gets 431;
- a head not fully received `header_timeout` seconds after the connection opened (or, on
  a kept-alive connection, after the next request's first byte) gets 408;
- a connection beyond `max_connections` open ones gets 503 to its first request;

each as a JSON `{"error": ...}` body with `connection: close`, after which the connection is
closed. The settings mixin gives each limit its flag (and MODELPLANE_* variable).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from pydantic import Field
from pydantic_settings import BaseSettings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from modelplane.flags import Flag

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class EdgeLimitSettings(BaseSettings):
    """Flags for the limits below; mixed into a part's settings class."""

    max_header_size: Annotated[int, Flag(metavar="BYTES")] = Field(
        default=64 * 1024,
        gt=0,
        description="largest request head (request line and headers); larger gets 431",
    )
    header_timeout: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=10.0,
        gt=0,
        description="most seconds to receive a request's head; slower gets 408 and is closed",
    )
    max_connections: Annotated[int, Flag(metavar="N")] = Field(
        default=1024,
        ge=0,
        description="open connections per worker; beyond it a request gets 503 (0 = unlimited)",
    )


class _Limited(HttpToolsProtocol):
    """The limits, over uvicorn's httptools protocol (set `_limits` on a subclass)."""

    _limits: EdgeLimitSettings
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None
    _rejection: tuple[int, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limit = self._limits.max_connections
        if limit and len(self.connections) > limit:
            # Answer the first request with 503 instead of running the app for it.
            self.app = _unavailable(limit)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error with 400; a head refused by a limit says so.
        if self._rejection is None:
            super().send_400_response(msg)
            return
        status, text = self._rejection
        self._reject(status, text)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        limit = self._limits.max_header_size
        if self._head_bytes > limit and self._rejection is None:
            self._rejection = (431, f"request head exceeds the limit of {limit} bytes")
            raise _HeadRefused  # stops the parser; uvicorn then calls send_400_response

    def _start_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self._limits.header_timeout, self._head_late)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        seconds = self._limits.header_timeout
        self._reject(408, f"request head not received within {seconds:g} s")

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
