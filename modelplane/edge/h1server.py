"""A lean HTTP/1.1 server for one ASGI app: an asyncio Protocol over httptools, no framework.

uvicorn's httptools protocol is general (streaming both ways, flow-control objects, a
response-cycle object with its own checks per message); on a proxy hop whose own work is tens
of microseconds, that generality was a third of the router's CPU per request. This server
keeps what a proxy hop needs and nothing else:

- keep-alive and pipelining: requests on one connection run one at a time, in order;
- the request body streams to the app (``receive``); a small body that arrived with its head
  is handed over at once, with no wake-up in between;
- ``Expect: 100-continue`` is answered when the app first asks for the body;
- a response goes out as one write when its body is whole (the router's always is); a
  streamed body with a content-length is written as it comes, one without is chunked;
- a head over ``max_header_size`` gets 431, a malformed request 400, an app that fails before
  answering 500; each closes the connection. A client that sends ``connection: close``, or
  speaks HTTP/1.0 without keep-alive, gets ``connection: close`` and is closed after its answer;
- an idle connection (no request in progress) is closed silently after ``keep_alive``
  seconds (``modelplane.edge.keepalive`` says why it is long);
- a response finished before its request's body arrived closes the connection (the rest of
  the body is never read);
- reading pauses while more than ``HIGH_WATER`` bytes of body wait for the app, and while the
  socket's send buffer is full.

Lifespan is the caller's: it runs the app's startup before ``start`` and its shutdown after
``close``. ``close`` stops accepting, closes idle connections, lets requests in progress
finish (at most ``grace`` seconds), then closes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import httptools

from modelplane.edge.asgi import ASGIApp, Message
from modelplane.edge.keepalive import KEEP_ALIVE_SECONDS

HIGH_WATER = 1 << 20  # bytes of request body buffered for the app before reading pauses
MAX_HEADER_SIZE = 64 * 1024
log = logging.getLogger("modelplane.edge")


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


_STATUS_LINES = {s.value: _status_line(s.value) for s in HTTPStatus}


class _Date:
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


def _error(status: int, text: str) -> bytes:
    body = b'{"error":"' + text.encode() + b'"}'
    return b"".join(
        (
            _STATUS_LINES.get(status) or _status_line(status),
            b"content-type: application/json\r\nconnection: close\r\n",
            b"content-length: %d\r\n\r\n" % len(body),
            body,
        )
    )


class _Cycle:
    """One request and its response on a connection."""

    __slots__ = (
        "bodied",
        "body",
        "buffered",
        "complete",
        "conn",
        "continue_",
        "delivered",
        "head",
        "keep_alive",
        "responded",
        "scope",
        "started",
        "streaming",
        "waiter",
    )

    def __init__(self, conn: _Connection, scope: dict[str, Any], keep_alive: bool) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.body: list[bytes] = []
        self.buffered = 0
        self.complete = False  # the whole request body has arrived
        self.delivered = False  # the app has read the whole body
        self.continue_ = False  # the client waits for "100 Continue"
        self.waiter: asyncio.Future[None] | None = None
        self.head: bytes | None = None  # the response head, until the first body write
        self.started = False  # http.response.start seen
        self.streaming = 0  # 0: whole body; 1: content-length given; 2: chunked
        self.bodied = True  # the status may carry a body (and so a content-length)
        self.responded = False

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self) -> Message:
        while not self.body and not self.complete and not self.delivered:
            if self.conn.lost:
                return {"type": "http.disconnect"}
            if self.continue_:
                self.continue_ = False
                self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiter = self.conn.loop.create_future()
            await self.waiter
        if not self.delivered:
            body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
            self.body.clear()
            self.buffered = 0
            self.delivered = self.complete
            self.conn.body_drained()
            return {"type": "http.request", "body": body, "more_body": not self.complete}
        if self.responded or self.conn.lost:
            return {"type": "http.disconnect"}
        self.waiter = self.conn.loop.create_future()  # the app waits for the client to leave
        await self.waiter
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            lines = [_STATUS_LINES.get(message["status"]) or _status_line(message["status"])]
            length = False
            for name, value in message.get("headers", ()):
                lower = name.lower()
                if lower == b"content-length":
                    length = True
                elif lower == b"connection":
                    continue  # the server decides (below)
                lines += (name, b": ", value, b"\r\n")
            lines.append(_Date.now())
            self.streaming = 1 if length else 0
            status = message["status"]
            self.bodied = status >= 200 and status not in (204, 304)  # RFC 9110: no length there
            self.head = b"".join(lines)
            return
        if kind != "http.response.body" or not self.started or self.responded:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        head_request = self.scope["method"] == "HEAD"
        if not more:
            self.responded = True
        if self.conn.lost:
            return
        if self.head is not None:
            if (not more and not self.complete) or self.conn.server.closing:
                self.keep_alive = False  # its body was not read to the end, or the server stops
            close = b"" if self.keep_alive else b"connection: close\r\n"
            head, self.head = self.head, None
            if self.streaming or not more:
                if not self.streaming and self.bodied:
                    head += b"content-length: %d\r\n" % len(body)
                self.conn.write(head + close + b"\r\n" + (b"" if head_request else body))
            else:
                self.streaming = 2
                self.conn.write(head + close + b"transfer-encoding: chunked\r\n\r\n")
                if body and not head_request:
                    self.conn.write(b"%x\r\n%s\r\n" % (len(body), body))
        elif not head_request:
            if self.streaming == 2:
                if body:
                    self.conn.write(b"%x\r\n%s\r\n" % (len(body), body))
                if not more:
                    self.conn.write(b"0\r\n\r\n")
            elif body:
                self.conn.write(body)
        if not more:
            self.conn.finished(self)


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, runs their cycles one at a time."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.app = server.app
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.cycles: deque[_Cycle] = deque()  # cycles[0] runs; the rest wait (pipelining)
        self.parsing: _Cycle | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._idle: asyncio.TimerHandle | None = None
        self._paused = False
        self._client: tuple[str, int] | None = None
        self._server_addr: tuple[str, int] | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.server.connections.add(self)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self._client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self._server_addr = (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) else None
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, "protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._refuse(400, "malformed HTTP request")

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()
        for cycle in self.cycles:
            cycle.wake()

    def pause_writing(self) -> None:
        self._pause()

    def resume_writing(self) -> None:
        self._resume()

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._grow(len(name) + len(value) + 4)

    def on_headers_complete(self) -> None:
        url = httptools.parse_url(self._url)
        raw_path = url.path or b"/"
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": self.parser.get_http_version(),
            "method": self.parser.get_method().decode("ascii"),
            "scheme": "http",
            "path": unquote(raw_path.decode("latin-1")) if b"%" in raw_path else raw_path.decode(),
            "raw_path": raw_path,
            "query_string": url.query or b"",
            "root_path": "",
            "headers": self._headers,
            "client": self._client,
            "server": self._server_addr,
        }
        cycle = _Cycle(self, scope, self.parser.should_keep_alive() and not self.server.closing)
        for name, value in self._headers:
            if name == b"expect" and value.lower() == b"100-continue":
                cycle.continue_ = True
        self.parsing = cycle
        self.cycles.append(cycle)
        if len(self.cycles) == 1:
            self._run(cycle)
        else:
            self._pause()  # a pipelined request waits; read no further until it runs

    def on_body(self, body: bytes) -> None:
        cycle = self.parsing
        if cycle is None or cycle.responded:
            return
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > HIGH_WATER:
            self._pause()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.parsing
        if cycle is not None:
            cycle.complete = True
            cycle.continue_ = False
            cycle.wake()

    # -- the cycle's side
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(data)

    def body_drained(self) -> None:
        if len(self.cycles) <= 1:
            self._resume()

    def finished(self, cycle: _Cycle) -> None:
        """A response is complete: close, or run the next pipelined request, or wait idle."""
        if self.cycles and self.cycles[0] is cycle:
            self.cycles.popleft()
        if not cycle.keep_alive:
            self._close()
            return
        if self.cycles:
            self._resume()
            self._run(self.cycles[0])
        elif self.server.closing:
            self._close()
        else:
            self._resume()
            self._arm_idle()

    # -- internals
    def _run(self, cycle: _Cycle) -> None:
        task = self.loop.create_task(self._call(cycle))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _call(self, cycle: _Cycle) -> None:
        try:
            await self.app(cycle.scope, cycle.receive, cycle.send)
        except Exception:
            log.exception(
                "the HTTP app failed on %s %s", cycle.scope["method"], cycle.scope["path"]
            )
            if not cycle.started and not self.lost:
                self.write(_error(500, "internal server error"))
            self._close()
            return
        if not cycle.responded and not self.lost:
            if not cycle.started:
                log.error("the HTTP app answered nothing on %s", cycle.scope["path"])
                self.write(_error(500, "internal server error"))
            self._close()

    def _grow(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.server.max_header_size:
            raise httptools.HttpParserError("head too large")

    def _refuse(self, status: int, text: str) -> None:
        if self._head_size > self.server.max_header_size:
            status, text = 431, "request head too large"
        if not self.cycles or not self.cycles[-1].started:
            self.write(_error(status, text))
        self._close()

    def _arm_idle(self) -> None:
        if self._idle is None and not self.lost:
            self._idle = self.loop.call_later(self.server.keep_alive, self._close)

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

    def close_if_idle(self) -> None:
        if not self.cycles:
            self._close()


class LeanServer:
    """Serves one ASGI app over HTTP/1.1 on one listening socket."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keep_alive: float = KEEP_ALIVE_SECONDS,
        max_header_size: int = MAX_HEADER_SIZE,
    ) -> None:
        self.app = app
        self.keep_alive = keep_alive
        self.max_header_size = max_header_size
        self.connections: set[_Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.closing = False
        self.loop: asyncio.AbstractEventLoop
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); returns the port. A taken port is OSError."""
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: _Connection(self), host, port, backlog=2048, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self, grace: float = 30.0) -> None:
        """Stop accepting; finish requests in progress (at most `grace` s); close every connection."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close_if_idle()
        if self.tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await asyncio.gather(*self.tasks, return_exceptions=True)
        for conn in list(self.connections):
            conn._close()
        for task in list(self.tasks):
            task.cancel()
