"""The lean HTTP/1.1 server of `modelplane.edge.h1server` on blocking sockets, a thread per
connection: the same behaviour for a synchronous handler, without an event loop.

On a proxy hop whose own work is tens of microseconds the event loop's machinery was the
largest cost left: asyncio (uvloop) spent about 0.1 ms a request on a 2-vCPU VM, and a hop
measured +0.15-0.2 ms, against +0.06-0.08 ms with Python on blocking sockets. A request here
is one ``recv`` (into httptools), the handler's call on the connection's own thread, one
``sendall`` of its whole answer: no thread, queue, lock or poll per request, and timeouts are
the socket's own (``SO_RCVTIMEO`` through `sockopts`, set only when the wait changes; Python's
``settimeout`` would poll before every call). Accepted sockets get ``TCP_NODELAY``.

It keeps what `h1server` keeps, the same way (`h1head` holds what both decide from a head,
and the two are tested by the same tests, ``tests/component/edge/test_h1server.py``):

- keep-alive and pipelining: requests on one connection run one at a time, in order (the
  handler runs as the parser completes each; nothing more is read while it runs);
- the body is read whole, never more than ``max_body`` bytes: a larger declared length is
  answered 413 at once (the body is never read), a chunked body growing past it too;
  ``Expect: 100-continue`` is answered when the head is whole;
- one write per response, framed by `h1wire.response`; no body bytes for HEAD;
- a head over ``max_header_size`` gets 431, one not whole ``header_timeout`` seconds after
  its first byte 408, a malformed request or an upgrade 400, a handler that raises 500;
  each closes the connection, as does ``connection: close`` or HTTP/1.0 without keep-alive
  (an HTTP/1.0 client that asks for it is told ``keep-alive``);
- an idle connection (no request in progress) is closed silently after ``keep_alive``
  seconds; a body's arrival has no timeout, as in `h1server`;
- a connection beyond ``max_connections`` open ones (0: no limit) gets 503 to its first
  request and is closed;
- a client that leaves before its body is whole never reaches the handler; an answer to one
  that left while its request ran goes nowhere (write errors are swallowed).

``close`` stops accepting, closes idle connections, lets requests in progress finish (at most
``grace`` seconds; their answers say ``connection: close``), then shuts the rest: a handler
still running then cannot be stopped, its thread ends when it returns and its answer goes
nowhere.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

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
from modelplane.edge.h1server import Request, Response
from modelplane.edge.h1wire import response
from modelplane.edge.sockopts import set_receive_timeout

log = logging.getLogger("modelplane.edge")

Handler = Callable[[Request], Response]
"""Synchronous: called on the connection's thread, one request at a time per connection."""

_READ = 64 * 1024  # bytes a recv takes at most
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_ACCEPT_RETRY = 0.1  # seconds before accepting again after a failure (out of descriptors)


class _Stop(Exception):
    """Raised from a parser callback: nothing more is read or answered on the connection."""


class _Connection(HeadReader):
    """One client connection on its own thread: reads, parses and answers its requests."""

    def __init__(self, server: ThreadedServer, sock: socket.socket, over_limit: int) -> None:
        super().__init__(server.max_header_size)
        self.server = server
        self.sock = sock
        self.over_limit = over_limit  # the connection limit it is beyond (0: within it)
        self.parser = httptools.HttpRequestParser(self)
        self.thread = threading.Thread(target=self.serve, name="h1-conn", daemon=True)
        self.lock = threading.Lock()  # the socket's close against `shut` from another thread
        self.running = False  # a request is being answered (`close` leaves it to finish)
        self.done = False  # nothing more is read or answered
        self.wait = -1.0  # the receive timeout set on the socket (0: none)
        self.in_head = False  # a request's head has begun and is not whole yet
        self.in_body = False  # a request's head is whole, its body not yet
        self.head_deadline: float | None = None
        self.request: Request | None = None
        self.body: list[bytes] = []
        self.size = 0
        self.keep = False
        self.http10 = False

    # -- the connection's thread
    def serve(self) -> None:
        try:
            self._read()
        except Exception:
            log.exception("an HTTP connection failed")
        finally:
            self.server._forget(self)
            with self.lock:
                self.sock.close()

    def _read(self) -> None:
        buffer = bytearray(_READ)
        view = memoryview(buffer)
        recv_into = self.sock.recv_into
        self._wait(self.server.keep_alive)
        while True:
            try:
                size = recv_into(buffer)
            except BlockingIOError:  # SO_RCVTIMEO ran out
                if self.in_head:
                    self._refuse(head_late(self.server.header_timeout))
                return  # idle: closed silently
            except OSError:
                return
            if not size:
                return
            self._feed(view[:size])
            if self.done or not self._rearm():
                return

    def _feed(self, data: memoryview) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self.done:
                self._refuse(UPGRADE)
        except httptools.HttpParserError:
            if not self.done:  # else a callback stopped it (_Stop), having answered
                self._refuse(parse_failure(self.head_size, self.max_header_size))

    def _rearm(self) -> bool:
        """Set the receive timeout the connection's state needs: the rest of the header
        timeout in a head, none in a body, else the keep-alive. False: the head is late."""
        if self.in_head:
            now = time.monotonic()
            if self.head_deadline is None:
                self.head_deadline = now + self.server.header_timeout
            wait = self.head_deadline - now
            if wait <= 0:
                self._refuse(head_late(self.server.header_timeout))
                return False
        elif self.in_body:
            wait = 0.0
        else:
            wait = self.server.keep_alive
        if wait != self.wait:
            self._wait(wait)
        return True

    def _wait(self, seconds: float) -> None:
        self.wait = seconds
        set_receive_timeout(self.sock, seconds)

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        self.in_head = True
        self.begin_head()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_deadline = None
        parser, server = self.parser, self.server
        path, query = target(self.url)
        method = parser.get_method().decode("ascii")
        self.request = Request(method, path, query, self.headers, b"")
        upgrade = parser.should_upgrade()
        refusal, expect = judge(
            self.headers, server.max_body, over_limit=self.over_limit, upgrade=upgrade
        )
        if refusal is not None:
            self._refuse(refusal)
            raise _Stop
        self.keep = parser.should_keep_alive() and not server.closing
        self.http10 = parser.get_http_version() == "1.0"
        self.body = []
        self.size = 0
        self.in_body = True
        if expect:
            self._send(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.server.max_body:
            self._refuse((413, too_large(self.server.max_body)))
            raise _Stop
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_body = False
        request = self.request
        if request is None:
            raise _Stop
        chunks = self.body
        request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        # `running` is set before `closing` is read, and `close` sets `closing` before it
        # reads `running`: a connection `close` takes for idle never runs a request
        self.running = True
        if self.server.closing:
            self._stop()
        sent = self._send(self._answer(request))
        self.running = False
        if not (sent and self.keep) or self.server.closing:
            self._stop()

    # -- internals
    def _answer(self, request: Request) -> bytes:
        server = self.server
        try:
            status, headers, body = server.handler(request)
        except Exception:
            log.exception("the HTTP handler failed on %s %s", request.method, request.path)
            status, headers = 500, JSON
            body = server.error_body(500, "internal server error")
            self.keep = False
        self.keep = keep = self.keep and not server.closing
        head = request.method == "HEAD"
        return response(status, headers, body, head, close_flag(keep, self.http10))

    def _send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except OSError:  # the client left
            return False
        return True

    def _refuse(self, refusal: Refusal) -> None:
        self.done = True
        self._send(refusal_bytes(refusal, self.server.error_body))

    def _stop(self) -> None:
        self.running = False
        self.done = True
        raise _Stop

    def shut(self) -> None:
        """From another thread: end the connection (its thread's recv or send returns)."""
        with self.lock, contextlib.suppress(OSError):  # closed already
            self.sock.shutdown(socket.SHUT_RDWR)


class ThreadedServer(ServerOptions):
    """Serves one synchronous handler over HTTP/1.1 on one listening socket (options:
    `h1head.Limits`)."""

    def __init__(self, handler: Handler, **limits: Unpack[Limits]) -> None:
        super().__init__(**limits)
        self.handler = handler
        self.connections: set[_Connection] = set()
        self._lock = threading.Lock()  # guards `connections`
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None

    def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port) and accept on a daemon thread; returns the
        port. A taken port is OSError."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(2048)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener,), name="h1-accept", daemon=True
        )
        self._acceptor.start()
        return int(listener.getsockname()[1])

    def close(self, grace: float = 30.0) -> None:
        """Stop accepting; finish requests in progress (at most `grace` s); close every
        connection. Blocks until then."""
        self.closing = True
        self._stop_accepting()
        for conn in self._open():
            if not conn.running:
                conn.shut()
        deadline = time.monotonic() + grace
        for conn in self._open():
            conn.thread.join(max(0.0, deadline - time.monotonic()))
        for conn in self._open():
            conn.shut()

    # -- internals
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError as exc:
                if self.closing:
                    return
                log.warning("accepting an HTTP connection failed: %s", exc)
                time.sleep(_ACCEPT_RETRY)
                continue
            if self.closing:
                sock.close()
                return
            self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        sock.settimeout(None)  # blocking: timeouts are SO_RCVTIMEO (see _Connection._wait)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            over = 0 < self.max_connections <= len(self.connections)
            conn = _Connection(self, sock, self.max_connections if over else 0)
            self.connections.add(conn)
        try:
            conn.thread.start()
        except RuntimeError:  # no thread to be had
            log.exception("starting an HTTP connection's thread failed")
            self._forget(conn)
            sock.close()

    def _stop_accepting(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        if self._acceptor is not None:
            self._acceptor.join()
        listener.close()

    def _open(self) -> list[_Connection]:
        with self._lock:
            return list(self.connections)

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self.connections.discard(conn)
