"""The router's HTTP/1.1 client on blocking sockets, for its threaded REST path (`blocking`).

The same client as `h1` (one buffer per request, answers parsed by httptools, a keep-alive
pool per upstream, most recently used first, a stale pooled connection retried once on a
fresh one, ``ConnectionFailed`` and ``TimeoutError`` as the only failures), on the calling
thread's own socket calls instead of an event loop: a request is one ``sendall`` and, for a
small answer, one ``recv``. Between the two, ``post`` suspends once with a `blocking.Sent`, so
an Ensemble can send its other members' requests before it waits (`blocking.together`);
`blocking.drive` runs a graph over it on the request's thread.

Several threads share one pool: taking and returning a connection are single list
operations (atomic under the GIL), and a connection belongs to one thread between them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping

import httptools

from modelplane.edge.sockopts import set_receive_timeout, set_send_timeout
from modelplane.router.blocking import Sent
from modelplane.router.errors import ConnectionFailed
from modelplane.router.h1 import CONNECT_TIMEOUT, IDLE_PER_UPSTREAM, Replies, Target
from modelplane.router.transport import Reply

READ_SIZE = 256 * 1024


class _Connection(Replies):
    """One blocking keep-alive connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.done: Reply | None = None
        self.received = False  # bytes of an answer arrived on this exchange
        self._timeout: float | None = None  # what the socket's timeouts are now (None: none)
        self.due: float | None = None  # when the answer being read is due (monotonic)

    def on_message_complete(self) -> None:
        self.done = self.reply()

    def send(self, data: bytes, limit: float | None) -> None:
        """Send a request whose whole answer is due within `limit` s (None: no limit)."""
        self.due = None if limit is None else time.monotonic() + limit
        self._wait(limit)
        self.received = False
        try:
            self.sock.sendall(data)
        except BlockingIOError as exc:  # SO_SNDTIMEO: the upstream reads nothing
            raise TimeoutError("the request could not be sent in time") from exc
        except OSError as exc:  # reset, broken pipe: the connection is gone
            raise ConnectionFailed(f"connection failed: {exc}") from exc

    def receive(self) -> Reply:
        """Read the whole answer to the request sent; TimeoutError when it is not whole in
        time, ConnectionFailed when the connection drops (`received` says whether any of the
        answer had come)."""
        sock, due = self.sock, self.due
        try:
            while True:
                chunk = sock.recv(READ_SIZE)
                if not chunk:
                    raise ConnectionFailed("connection closed before the answer was complete")
                self.received = True
                self.parser.feed_data(chunk)
                if self.done is not None:
                    break
                if due is not None:  # a long answer: what is left of the limit, no more
                    self._wait(max(due - time.monotonic(), 1e-6))
        except httptools.HttpParserError as exc:
            raise ConnectionFailed(f"malformed HTTP answer: {exc}") from exc
        except BlockingIOError as exc:  # SO_RCVTIMEO ran out
            raise TimeoutError("no whole answer in time") from exc
        except OSError as exc:
            raise ConnectionFailed(f"connection failed: {exc}") from exc
        reply, self.done = self.done, None
        return reply

    def _wait(self, seconds: float | None) -> None:
        """The socket's timeouts (kernel's, on a blocking socket: no poll before each call),
        changed only when they differ: a step's limit is mostly its timeout, the same each
        call. The first read waits the whole limit from its start: the send before it takes
        microseconds."""
        if seconds != self._timeout:
            set_receive_timeout(self.sock, seconds)
            set_send_timeout(self.sock, seconds)
            self._timeout = seconds

    def close(self) -> None:
        self.sock.close()


class _Upstream(Target):
    """A target and its idle blocking connections."""

    __slots__ = ("idle",)

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.idle: list[_Connection] = []


class BlockingH1Transport:
    """A Transport whose calls block the calling thread: pooled keep-alive HTTP/1.1."""

    def __init__(
        self, idle_per_upstream: int = IDLE_PER_UPSTREAM, connect_timeout: float = CONNECT_TIMEOUT
    ) -> None:
        self.idle_per_upstream = idle_per_upstream
        self.connect_timeout = connect_timeout
        self._upstreams: dict[str, _Upstream] = {}

    def _upstream(self, url: str) -> _Upstream:
        upstream = self._upstreams.get(url)
        if upstream is None:
            try:
                upstream = self._upstreams.setdefault(url, _Upstream(url))
            except ValueError as exc:
                raise ConnectionFailed(str(exc)) from exc
        return upstream

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], limit: float | None = None
    ) -> Reply:
        """POST and read the answer on this thread (the coroutine never suspends)."""
        upstream = self._upstream(url)
        data = upstream.post(body, headers)
        idle = upstream.idle
        if idle:  # reuse a warm connection; a stale one is retried once, fresh
            try:
                connection = idle.pop()
            except IndexError:  # another thread took the last one
                pass
            else:
                start = time.monotonic()
                try:
                    return await self._exchange(upstream, connection, data, limit)
                except ConnectionFailed:
                    if connection.received:
                        raise
                if limit is not None:
                    limit -= time.monotonic() - start
        end = None if limit is None else time.monotonic() + limit
        connection = self._connect(upstream, limit)
        remaining = None if end is None else max(end - time.monotonic(), 1e-6)
        return await self._exchange(upstream, connection, data, remaining)

    async def get(self, url: str, limit: float | None = None) -> Reply:
        """GET url on a connection of its own, closed after (a model's metadata: rare)."""
        upstream = self._upstream(url)
        connection = self._connect(upstream, limit)
        try:
            connection.send(upstream.get_head, limit)
            return connection.receive()
        finally:
            connection.close()

    def _connect(self, upstream: _Upstream, limit: float | None) -> _Connection:
        """A new connection within the connect timeout (ConnectionFailed after it), and within
        the attempt's `limit` (TimeoutError when that is the shorter)."""
        attempt_binds = limit is not None and limit < self.connect_timeout
        timeout = limit if attempt_binds else self.connect_timeout
        try:
            sock = socket.create_connection((upstream.host, upstream.port), timeout)
        except TimeoutError:
            if attempt_binds:
                raise
            raise ConnectionFailed(
                f"cannot connect to {upstream.host}:{upstream.port}: no answer within "
                f"{self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise ConnectionFailed(
                f"cannot connect to {upstream.host}:{upstream.port}: {exc}"
            ) from exc
        sock.settimeout(None)  # blocking: the kernel keeps the timeouts (`_Connection._wait`)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(sock)

    async def _exchange(
        self, upstream: _Upstream, connection: _Connection, data: bytes, limit: float | None
    ) -> Reply:
        try:
            connection.send(data, limit)
            # the request is out: an Ensemble sends its other members' now
            await Sent((connection.sock.fileno(),), connection.due)
            reply = connection.receive()
        except BaseException:
            connection.close()  # a timeout or a failure: its answer may still come; never reuse
            raise
        if connection.keep_alive and len(upstream.idle) < self.idle_per_upstream:
            upstream.idle.append(connection)
        else:
            connection.close()
        return reply

    async def aclose(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        for upstream in self._upstreams.values():
            while upstream.idle:
                upstream.idle.pop().close()
