"""A lean HTTP/1.1 server for whole requests: an asyncio Protocol over httptools, no framework.
The router and the model server both serve on it.

On a proxy hop whose own work is tens of microseconds, a general server's per-request
machinery (uvicorn's response cycle, ASGI's message dicts, streaming both ways) was most of
the router's CPU, and Python's cost per line grows several times over when the kernel's
network work between requests leaves the caches cold. The handler takes a whole `Request`
and returns a whole `Response`; the server keeps what a hop needs:

- keep-alive and pipelining: requests on one connection run one at a time, in order, and
  reading pauses while a request waits behind another;
- the body is read whole, never more than ``max_body`` bytes: a larger declared length is
  answered 413 at once (the body is never read), a chunked body growing past it too;
  ``Expect: 100-continue`` is answered when the request is next;
- one write per response (head and body), with its content-length (none on 1xx, 204 and
  304), a ``date``, no body bytes for HEAD;
- a head over ``max_header_size`` gets 431, one not whole ``header_timeout`` seconds after
  its first byte 408, a malformed request or an upgrade 400, a handler that raises 500;
  each closes the connection, as does ``connection: close`` or HTTP/1.0
  without keep-alive (an HTTP/1.0 client that asks for it is told ``keep-alive``);
- an idle connection (no request in progress) is closed silently after ``keep_alive``
  seconds (``modelplane.edge.keepalive`` says why it is long); one timer per connection;
- a connection beyond ``max_connections`` open ones (0: no limit) gets 503 to its first
  request and is closed, so idle or slow clients cannot hold the process's descriptors;
- a client that leaves before its body is whole never reaches the handler; one that leaves
  while its request runs gets nothing written.

Refusals carry ``error_body(status, message)``, the app's error format. ``close`` stops
accepting, closes idle connections, lets requests in progress finish (at most ``grace``
seconds), then closes the rest.

What it decides from a request's head is `h1head`'s, shared with `h1threads`, the same server
on blocking sockets and a thread per connection (the two pass the same tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable

import httptools
from typing_extensions import Unpack

from modelplane.edge.errors import too_large
from modelplane.edge.h1head import (
    JSON,
    UPGRADE,
    HeadReader,
    Limits,
    Refusal,
    ServerOptions,
    close_flag,
    head_late,
    judge,
    parse_failure,
    refusal_bytes,
    target,
)
from modelplane.edge.h1wire import Headers, response

log = logging.getLogger("modelplane.edge")

Response = tuple[int, Headers, bytes]
"""Status, headers (without content-length, date or connection: the server writes those), body."""


class Request:
    """A whole request: method, percent-decoded path, raw query, lower-case headers, body."""

    __slots__ = ("body", "headers", "method", "path", "query")

    def __init__(self, method: str, path: str, query: bytes, headers: Headers, body: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


Handler = Callable[[Request], Awaitable[Response]]


class _Pending:
    """A request being received or waiting its turn on its connection."""

    __slots__ = (
        "body",
        "complete",
        "continue_",
        "head",
        "http10",
        "keep_alive",
        "refusal",
        "request",
        "size",
    )

    def __init__(self, request: Request, keep_alive: bool) -> None:
        self.request = request
        self.keep_alive = keep_alive
        self.head = request.method == "HEAD"
        self.http10 = False
        self.body: list[bytes] = []
        self.size = 0
        self.complete = False  # the whole body has arrived
        self.continue_ = False  # the client waits for "100 Continue"
        self.refusal: Refusal | None = None  # answered by the server, then closed


class _Connection(asyncio.Protocol, HeadReader):
    """One client connection: parses requests, runs them one at a time."""

    def __init__(self, server: LeanServer) -> None:
        HeadReader.__init__(self, server.max_header_size)
        self.server = server
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.queue: deque[_Pending] = deque()  # queue[0] is next (or running)
        self.parsing: _Pending | None = None
        self.task: asyncio.Task[None] | None = None  # the running request's
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None  # None while a request is in progress
        self._in_head = False  # a request's head has begun and is not whole yet
        self._head_timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._over_limit = False  # beyond max_connections: its first request gets 503

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        connections, limit = self.server.connections, self.server.max_connections
        connections.add(self)
        self._over_limit = 0 < limit < len(connections)
        self._idle_since = self.loop.time()
        self._idle_timer = self.loop.call_later(self.server.keep_alive, self._idle_check)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
            if self._in_head and self._head_timer is None:  # a head split across reads
                wait = self.server.header_timeout
                self._head_timer = self.loop.call_later(wait, self._head_late)
        except httptools.HttpParserUpgrade:
            self._refuse(UPGRADE)
        except httptools.HttpParserError:
            self._refuse(parse_failure(self.head_size, self.max_header_size))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.connections.discard(self)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._head_timer is not None:
            self._head_timer.cancel()

    def pause_writing(self) -> None:
        self._pause()

    def resume_writing(self) -> None:
        if len(self.queue) <= 1:
            self._resume()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._idle_since = None
        self._in_head = True
        self.begin_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        path, query = target(self.url)
        method = self.parser.get_method().decode("ascii")
        request = Request(method, path, query, self.headers, b"")
        pending = _Pending(request, self.parser.should_keep_alive() and not self.server.closing)
        pending.http10 = self.parser.get_http_version() == "1.0"
        over_limit = self.server.max_connections if self._over_limit else 0
        pending.refusal, pending.continue_ = judge(
            self.headers,
            self.server.max_body,
            over_limit=over_limit,
            upgrade=self.parser.should_upgrade(),
        )
        self.parsing = pending
        self.queue.append(pending)
        if len(self.queue) == 1:
            self._next()
        else:
            self._pause()  # a pipelined request waits; read no further until it runs

    def on_body(self, body: bytes) -> None:
        pending = self.parsing
        if pending is None or pending.refusal is not None:
            return
        pending.size += len(body)
        if pending.size > self.server.max_body:
            pending.refusal = (413, too_large(self.server.max_body))
            pending.body.clear()
            if self.queue[0] is pending:
                self._next()
            return
        pending.body.append(body)

    def on_message_complete(self) -> None:
        pending = self.parsing
        if pending is not None:
            self.parsing = None
            pending.complete = True
            pending.continue_ = False
            if self.queue and self.queue[0] is pending:
                self._next()

    # -- running requests
    def _next(self) -> None:
        """Move the request at the head of the queue on: refuse it, ask for its body, or run it."""
        if self.task is not None or not self.queue or self.lost:
            return
        pending = self.queue[0]
        if pending.refusal is not None:
            self.queue.clear()  # nothing more is read or answered on this connection
            self.parsing = None
            self._write(refusal_bytes(pending.refusal, self.server.error_body))
            self._close()
            return
        if not pending.complete:
            if pending.continue_:
                pending.continue_ = False
                self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        request = pending.request
        chunks = pending.body
        request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.task = self.loop.create_task(self._run(pending))

    async def _run(self, pending: _Pending) -> None:
        request = pending.request
        try:
            status, headers, body = await self.server.handler(request)
        except Exception:
            log.exception("the HTTP handler failed on %s %s", request.method, request.path)
            status, headers = 500, JSON
            body = self.server.error_body(500, "internal server error")
            pending.keep_alive = False
        self.task = None
        if self.lost:
            return
        keep = pending.keep_alive and not self.server.closing
        self._write(response(status, headers, body, pending.head, close_flag(keep, pending.http10)))
        self.queue.popleft()
        if not keep:
            self._close()
        elif self.queue:
            self._resume()
            self._next()
        else:
            self._idle_since = self.loop.time()
            self._resume()

    # -- internals
    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(data)

    def _refuse(self, refusal: Refusal) -> None:
        closing = self.transport is None or self.transport.is_closing()
        if self.task is None and not closing:  # never cut a running request's answer
            self._write(refusal_bytes(refusal, self.server.error_body))
        self._close()

    def _head_late(self) -> None:
        self._head_timer = None
        if self._in_head and not self.lost:
            self._refuse(head_late(self.server.header_timeout))

    def _idle_check(self) -> None:
        """One timer per connection, re-armed when it fires early (cheaper than one per request):
        closes the connection once it has been idle for the whole keep-alive."""
        self._idle_timer = None
        if self.lost:
            return
        wait = self.server.keep_alive
        if self._idle_since is not None:
            wait -= self.loop.time() - self._idle_since
            if wait <= 0:
                self._close()
                return
        self._idle_timer = self.loop.call_later(wait, self._idle_check)

    def _pause(self) -> None:
        if not self._paused and self.transport is not None and not self.lost:
            self._paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self._paused and self.transport is not None and not self.lost:
            self._paused = False
            self.transport.resume_reading()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class LeanServer(ServerOptions):
    """Serves one handler over HTTP/1.1 on one listening socket (options: `ServerOptions`)."""

    def __init__(self, handler: Handler, **limits: Unpack[Limits]) -> None:
        super().__init__(**limits)
        self.handler = handler
        self.connections: set[_Connection] = set()
        self.loop: asyncio.AbstractEventLoop
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); returns the port. A taken port is OSError."""
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: _Connection(self), host, port, backlog=2048, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def start_on(self, sock: socket.socket) -> int:
        """Listen on a socket bound already (shared by sibling processes); returns its port."""
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: _Connection(self), sock=sock, backlog=2048
        )
        return int(sock.getsockname()[1])

    async def close(self, grace: float = 30.0) -> None:
        """Stop accepting; finish requests in progress (at most `grace` s); close every connection."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.task is None:
                conn._close()
        tasks = [c.task for c in self.connections if c.task is not None]
        if tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await asyncio.gather(*tasks, return_exceptions=True)
        for conn in list(self.connections):
            conn._close()
        for task in tasks:
            task.cancel()
