"""A lean HTTP/1.1 client for the router's upstream calls: keep-alive pools per upstream.

The router sends one kind of request (a POST with a body, to a V2 server it trusts to speak
HTTP/1.1) and reads whole answers; a model's metadata is a rare GET on a connection of its
own. A general client pays per request for what it does not need here (cookie jars,
redirects, tracing hooks, header multidicts, a task per request);
this one writes the request in one ``write`` and parses the answer with httptools (the
parser uvicorn uses) in an asyncio Protocol. Each upstream ``host:port`` keeps its own pool
of idle connections, most recently used first, so a hot path reuses a warm socket.

Errors: a connection that cannot be made (refused, or not opened within the connect
timeout: a SYN to a pod that is gone gets no answer at all), or that closes before a whole
answer arrives, is ``ConnectionFailed`` (the retry policy's business). A pooled connection that the server had
already closed (its keep-alive ran out) is retried once on a fresh one before anything is
reported, as browsers and aiohttp do. A call given a time limit arms one timer on its connection
and raises TimeoutError when it fires; a call that times out or is cancelled closes its
connection (its answer may still come).

The pools and the way a request uses them (`PooledClient`), the request head (`Target`) and
the reading of an answer (`Replies`) are shared with `h1block`, the same client on blocking
sockets; each adds only how it connects and sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import httptools

from modelplane.edge.v2 import HEADER_LENGTH_BYTES
from modelplane.router.errors import ConnectionFailed
from modelplane.router.transport import Reply

IDLE_PER_UPSTREAM = 64  # idle connections kept per upstream; more are closed when released
CONNECT_TIMEOUT = 3.0  # seconds to open a connection (a SYN to a vanished pod gets no answer)
JSON = b"application/json"


class Replies:
    """httptools callbacks that read one answer at a time into a `Reply` (shared by this
    module's asyncio connections and `h1block`'s blocking ones)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.keep_alive = True
        self._body: list[bytes] = []
        self._content_type = JSON
        self._header_length: int | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-type":
            self._content_type = value
        elif lower == HEADER_LENGTH_BYTES and value.isdigit():
            self._header_length = int(value)

    def on_headers_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def reply(self) -> Reply:
        """The answer just completed; the reader starts afresh for the next."""
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        reply = Reply(self.parser.get_status_code(), body, self._content_type, self._header_length)
        self._body, self._content_type, self._header_length = [], JSON, None
        return reply


class _Connection(asyncio.Protocol, Replies):
    """One keep-alive connection: sends a request, resolves a future with the answer."""

    def __init__(self) -> None:
        Replies.__init__(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.received = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionFailed(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionFailed("connection closed before the answer was complete"))

    # -- httptools
    def on_message_complete(self) -> None:
        reply = self.reply()
        if not self.keep_alive:
            self.close()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            self._disarm()
            waiter.set_result(reply)

    # -- use
    def send(
        self, data: bytes, loop: asyncio.AbstractEventLoop, limit: float | None
    ) -> asyncio.Future[Reply]:
        """Write a request; the future gets its answer, or TimeoutError after `limit` s."""
        assert self.transport is not None
        self.received = False
        self.waiter = loop.create_future()
        if limit is not None:
            self.timer = loop.call_later(limit, self._fail, TimeoutError())
        self.transport.write(data)
        return self.waiter

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _fail(self, exc: Exception) -> None:
        self._disarm()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Target:
    """Where a URL's requests go: its address and the head every request to it starts with
    (shared by the asyncio client here and the blocking one, `h1block`)."""

    __slots__ = ("get_head", "head", "host", "port")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the lean client speaks plain http://, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host = parts.netloc.rsplit("@", 1)[-1]
        self.head = f"POST {path} HTTP/1.1\r\nhost: {host}\r\n".encode("latin-1")
        self.get_head = f"GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n".encode("latin-1")

    def post(self, body: bytes, headers: Mapping[str, str]) -> bytes:
        """A whole POST request to this target, in one buffer."""
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1")
        return b"".join((self.head, lines, b"content-length: %d\r\n\r\n" % len(body), body))


class Pooled(Protocol):
    """What a pool keeps of a connection: whether it is closed, whether an answer had begun
    to arrive on its last exchange (a stale connection has not), and how to close it."""

    closed: bool
    received: bool

    def close(self) -> None: ...


C = TypeVar("C", bound=Pooled)


class Upstream(Target, Generic[C]):
    """A target and its idle connections, most recently used last."""

    __slots__ = ("idle",)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.idle: list[C] = []


class PooledClient(Generic[C]):
    """Keep-alive pools per upstream and the one way a request uses them, for both clients
    (this module's on the event loop, `h1block`'s on blocking sockets): a warm connection
    first, a stale one (closed by the server while idle: no answer began) retried once on a
    fresh one, a connection kept again only after a whole answer."""

    def __init__(
        self, idle_per_upstream: int = IDLE_PER_UPSTREAM, connect_timeout: float = CONNECT_TIMEOUT
    ) -> None:
        self.idle_per_upstream = idle_per_upstream
        self.connect_timeout = connect_timeout
        self._upstreams: dict[str, Upstream[C]] = {}

    async def _open(self, upstream: Target, within: float) -> C:
        """A new connection to upstream; TimeoutError after `within` s, OSError when refused."""
        raise NotImplementedError

    async def _send(self, connection: C, data: bytes, limit: float | None) -> Reply:
        """One request and its whole answer on a connection, within `limit` seconds."""
        raise NotImplementedError

    def _upstream(self, url: str) -> Upstream[C]:
        upstream = self._upstreams.get(url)
        if upstream is None:
            try:  # setdefault: threads adding one upstream keep one pool
                upstream = self._upstreams.setdefault(url, Upstream(url))
            except ValueError as exc:
                raise ConnectionFailed(str(exc)) from exc
        return upstream

    async def _connect(self, upstream: Target, limit: float | None) -> C:
        """A new connection within the connect timeout (ConnectionFailed after it), and within
        the attempt's `limit` (TimeoutError when that is the shorter)."""
        attempt_binds = limit is not None and limit < self.connect_timeout
        within = limit if limit is not None and attempt_binds else self.connect_timeout
        where = f"cannot connect to {upstream.host}:{upstream.port}"
        try:
            return await self._open(upstream, within)
        except TimeoutError:
            if attempt_binds:
                raise
            raise ConnectionFailed(
                f"{where}: no answer within {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise ConnectionFailed(f"{where}: {exc}") from exc

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], limit: float | None = None
    ) -> Reply:
        upstream = self._upstream(url)
        data = upstream.post(body, headers)
        idle = upstream.idle
        while idle:  # reuse a warm connection; a stale one is retried once, fresh
            try:
                connection = idle.pop()
            except IndexError:  # another thread took the last one
                break
            if connection.closed:
                continue
            start = time.monotonic()
            try:
                return await self._exchange(upstream, connection, data, limit)
            except ConnectionFailed:
                if connection.received:
                    raise
            if limit is not None:
                limit -= time.monotonic() - start
            break
        end = None if limit is None else time.monotonic() + limit
        connection = await self._connect(upstream, limit)
        remaining = None if end is None else max(end - time.monotonic(), 1e-6)
        return await self._exchange(upstream, connection, data, remaining)

    async def get(self, url: str, limit: float | None = None) -> Reply:
        """GET url on a connection of its own, closed after (metadata: rare, off the request
        path, so it never takes a pooled connection from a request)."""
        upstream = self._upstream(url)
        connection = await self._connect(upstream, limit)
        try:
            return await self._send(connection, upstream.get_head, limit)
        finally:
            connection.close()

    async def _exchange(
        self, upstream: Upstream[C], connection: C, data: bytes, limit: float | None
    ) -> Reply:
        try:
            reply = await self._send(connection, data, limit)
        except BaseException:
            connection.close()  # a timeout or a failure: its answer may still come; never reuse
            raise
        if not connection.closed and len(upstream.idle) < self.idle_per_upstream:
            upstream.idle.append(connection)
        elif not connection.closed:
            connection.close()
        return reply

    async def aclose(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        for upstream in self._upstreams.values():
            while upstream.idle:
                upstream.idle.pop().close()


class H1Transport(PooledClient[_Connection]):
    """A Transport on the event loop: pooled keep-alive HTTP/1.1 connections, one pool per
    upstream."""

    async def _open(self, upstream: Target, within: float) -> _Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(within):
            _, connection = await loop.create_connection(_Connection, upstream.host, upstream.port)
        return connection

    async def _send(self, connection: _Connection, data: bytes, limit: float | None) -> Reply:
        return await connection.send(data, asyncio.get_running_loop(), limit)
