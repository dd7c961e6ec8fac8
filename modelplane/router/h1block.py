"""The router's HTTP/1.1 client on blocking sockets, for its threaded REST path (`blocking`).

The same client as `h1`, whose pools and request logic it shares (`h1.PooledClient`: one
buffer per request, answers parsed by httptools, a keep-alive pool per upstream, a stale
pooled connection retried once on a fresh one, ``ConnectionFailed`` and ``TimeoutError`` as
the only failures), on the calling thread's own socket calls instead of an event loop: a request is one ``sendall`` and, for a
small answer, one ``recv``. Between the two, ``post`` suspends once with a `blocking.Sent`, so
an Ensemble can send its other members' requests before it waits (`blocking.together`);
`blocking.drive` runs a graph over it on the request's thread.

Several threads share one pool: taking and returning a connection are single list
operations (atomic under the GIL), and a connection belongs to one thread between them.
"""

from __future__ import annotations

import socket
import time

import httptools

from modelplane.edge.sockopts import set_receive_timeout, set_send_timeout
from modelplane.router.blocking import Sent
from modelplane.router.errors import ConnectionFailed
from modelplane.router.h1 import PooledClient, Replies, Target
from modelplane.router.transport import Reply

READ_SIZE = 256 * 1024


class _Connection(Replies):
    """One blocking keep-alive connection."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.done: Reply | None = None
        self.closed = False
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
        self.closed = True
        self.sock.close()


class BlockingH1Transport(PooledClient[_Connection]):
    """A Transport whose calls block the calling thread: pooled keep-alive HTTP/1.1."""

    async def _open(self, upstream: Target, within: float) -> _Connection:
        sock = socket.create_connection((upstream.host, upstream.port), within)
        sock.settimeout(None)  # blocking: the kernel keeps the timeouts (`_Connection._wait`)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(sock)

    async def _send(self, connection: _Connection, data: bytes, limit: float | None) -> Reply:
        """Send, suspend once (the request is out: an Ensemble sends its other members' now),
        then read the answer on this thread."""
        connection.send(data, limit)
        await Sent((connection.sock.fileno(),), connection.due)
        reply = connection.receive()
        if not connection.keep_alive:
            connection.close()
        return reply
