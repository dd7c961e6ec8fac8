"""The activator's gRPC side: one TCP listener per scale-to-zero component, whose
connections wake the component and are then relayed, byte for byte, to its pod's gRPC port.

A component at zero has an EndpointSlice whose `grpc` port is the component's relay port on
the activator pods (`relay_ports`); kube-proxy sends a gRPC client's connection there. The
relay holds the connection (bounded like a held HTTP request) while the component wakes,
connects to the Ready pod and copies both directions until either side closes. A connection
that cannot be woken within the bounds is closed, which a gRPC client reports as UNAVAILABLE.

Once the component's Service has its selector back (or no longer claims the port), new
connections go to the pods directly, and the relay hands its own back: it writes one HTTP/2
GOAWAY to the client, between two of the server's frames (`Frames` finds where they end; the
relay reads nothing else of HTTP/2). The GOAWAY says NO_ERROR and the last stream id 2^31-1,
a graceful shutdown's first GOAWAY (RFC 9113, 6.8): the client opens no new stream on this
connection and none it opened is refused, so no call fails or runs twice; it finishes the
calls in flight and closes, and its channel's next call opens a connection that goes to the
pods. Without it, a channel opened at zero would be relayed for as long as it lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from modelplane.operator.targets import Target

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
CONNECT_TIMEOUT = 10.0
FIRST_BYTE_TIMEOUT = 30.0  # a connection that sends nothing this long is closed, unwoken

Wake = Callable[[Target], Awaitable[str | None]]  # the woken pod's IP, None: give up

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # what an HTTP/2 client sends first
FRAME_HEADER = 9  # HTTP/2: length (3 bytes), type, flags, stream id (4)
# GOAWAY (type 7) on stream 0: last stream id 2^31-1, error code NO_ERROR
GOAWAY = bytes([0, 0, 8, 7, 0, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])


class Frames:
    """Where HTTP/2 frames end in a stream of bytes fed in chunks (pure)."""

    def __init__(self) -> None:
        self.count = 0  # whole frames seen
        self._head = b""  # a frame header read in part
        self._left = 0  # payload bytes of the current frame not seen yet

    def feed(self, chunk: bytes) -> bool:
        """Take the next bytes; whether they end exactly where a frame ends."""
        at, end = 0, len(chunk)
        while at < end:
            if self._left:
                took = min(self._left, end - at)
                at += took
                self._left -= took
                self.count += self._left == 0
                continue
            took = min(FRAME_HEADER - len(self._head), end - at)
            self._head += chunk[at : at + took]
            at += took
            if len(self._head) == FRAME_HEADER:
                self._left = int.from_bytes(self._head[:3], "big")
                self._head = b""
                self.count += self._left == 0
        return not self._head and not self._left


class _Relayed:
    """One relayed connection, as the relay sees it: what it sent the client, whether it
    should be handed back, and whether it was."""

    def __init__(
        self,
        key: tuple[str, str],
        client: asyncio.StreamWriter,
        http2: bool,
        done: Callable[[], None],
    ) -> None:
        self.key = key
        self.client = client
        self.done = done  # called once the GOAWAY is written
        self.http2 = http2  # only an HTTP/2 connection (every gRPC one) is handed back
        self.frames = Frames()
        self.at_boundary = True
        self.wanted = False  # hand it back at the next frame boundary
        self.goaway_sent = False

    def forwarded(self, chunk: bytes) -> None:
        """Bytes of the server's just written to the client."""
        self.at_boundary = self.frames.feed(chunk)
        self._goaway()

    def hand_back(self) -> None:
        """Ask the client to take its next calls elsewhere (once, at the next boundary)."""
        self.wanted = True
        self._goaway()

    def _goaway(self) -> None:
        # after the server's first frame (its SETTINGS: the preface) and between two frames
        if not self.wanted or self.goaway_sent or not self.http2:
            return
        if not self.at_boundary or not self.frames.count:
            return
        if self.client.is_closing():
            return
        self.client.write(GOAWAY)
        self.goaway_sent = True
        self.done()
        log.info("relay of %s/%s: connection handed back to the pods (GOAWAY)", *self.key)


class Relay:
    """Listeners on the claimed relay ports, and the connections they relay."""

    def __init__(self, host: str, wake: Wake) -> None:
        self.host = host
        self.wake = wake
        self._servers: dict[int, asyncio.Server] = {}
        self._targets: dict[int, Target] = {}
        self._connections: set[asyncio.Task[None]] = set()
        self._relayed: dict[int, set[_Relayed]] = {}  # port -> connections being relayed
        self.handed_back = 0  # GOAWAYs written so far

    @property
    def ports(self) -> list[int]:
        """The ports listened on now."""
        return sorted(self._servers)

    def _handed_back(self) -> None:
        self.handed_back += 1

    @property
    def relayed(self) -> int:
        """Connections being relayed now."""
        return sum(len(conns) for conns in self._relayed.values())

    async def sync(self, targets: Mapping[int, Target]) -> None:
        """Listen on every port in `targets` (port -> component) and on no other; a port
        that cannot be bound now is logged and tried again on the next sync. Connections
        relayed for a component whose Service routes to its pods again are handed back."""
        self._targets = dict(targets)
        for port, conns in self._relayed.items():
            target = targets.get(port)
            if target is None or not target.parked:
                for conn in conns:
                    conn.hand_back()
        for port in [p for p in self._servers if p not in targets]:
            # stop accepting; connections being relayed go on (Python 3.12's wait_closed
            # would wait for them, so it is not awaited here)
            self._servers.pop(port).close()
        for port, target in targets.items():
            if port in self._servers:
                continue
            try:
                self._servers[port] = await asyncio.start_server(
                    self._accepted, self.host, port, reuse_address=True
                )
            except OSError as failure:
                log.warning("cannot relay gRPC of %s/%s on port %s: %s", *target.key, port, failure)
                continue
            log.info("relaying gRPC of %s/%s on port %s", target.namespace, target.service, port)

    async def close(self) -> None:
        """Stop listening and drop the connections being relayed."""
        servers = list(self._servers.values())
        await self.sync({})
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in servers:
            await server.wait_closed()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("sockname")[1]
        target = self._targets.get(port)
        if target is None:
            return  # no longer claimed: closed
        # a connection that closes before a byte (a port probe, a TCP health check) wakes
        # nothing; a gRPC client sends its HTTP/2 preface at once
        try:
            first = await asyncio.wait_for(reader.read(CHUNK), FIRST_BYTE_TIMEOUT)
        except (TimeoutError, OSError, ConnectionError):
            return
        if not first:
            return
        address = await self.wake(target)
        if address is None:
            return
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(address, target.grpc_port), CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError) as failure:
            log.warning(
                "relay of %s/%s: cannot reach %s:%s: %s",
                *target.key,
                address,
                target.grpc_port,
                failure,
            )
            return
        upstream_writer.write(first)
        http2 = first[: len(PREFACE)] == PREFACE[: len(first)]
        conn = _Relayed(target.key, writer, http2, self._handed_back)
        relayed = self._relayed.setdefault(port, set())
        relayed.add(conn)
        try:
            await asyncio.gather(
                pipe(reader, upstream_writer), pipe(upstream_reader, writer, conn.forwarded)
            )
        finally:
            relayed.discard(conn)
            upstream_writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await upstream_writer.wait_closed()


async def pipe(
    source: asyncio.StreamReader,
    sink: asyncio.StreamWriter,
    written: Callable[[bytes], None] | None = None,
) -> None:
    """Copy until the source ends, then half-close the sink (the other way may go on);
    `written` sees each chunk once it is written."""
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            if written is not None:
                written(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, ConnectionError):
        sink.close()  # one side broke: the other side learns it by the close
