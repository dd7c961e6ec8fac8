"""The activator's gRPC side: one TCP listener per scale-to-zero component, whose
connections wake the component and are then relayed, byte for byte, to its pod's gRPC port.

A component at zero has an EndpointSlice whose `grpc` port is the component's relay port on
the activator pods (`relay_ports`); kube-proxy sends a gRPC client's connection there. The
relay does not parse HTTP/2: it holds the connection (bounded like a held HTTP request) while
the component wakes, connects to the Ready pod and copies both directions until either side
closes. A connection that cannot be woken within the bounds is closed, which a gRPC client
reports as UNAVAILABLE. A connection opened at zero stays relayed until its client closes it
(gRPC clients drop idle connections on their own); new connections go to the pods directly
once the Service has its selector back.
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


class Relay:
    """Listeners on the claimed relay ports, and the connections they relay."""

    def __init__(self, host: str, wake: Wake) -> None:
        self.host = host
        self.wake = wake
        self._servers: dict[int, asyncio.Server] = {}
        self._targets: dict[int, Target] = {}
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def ports(self) -> list[int]:
        """The ports listened on now."""
        return sorted(self._servers)

    async def sync(self, targets: Mapping[int, Target]) -> None:
        """Listen on every port in `targets` (port -> component) and on no other; a port
        that cannot be bound now is logged and tried again on the next sync."""
        self._targets = dict(targets)
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
        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            upstream_writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await upstream_writer.wait_closed()


async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until the source ends, then half-close the sink (the other way may go on)."""
    try:
        while chunk := await source.read(CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, ConnectionError):
        sink.close()  # one side broke: the other side learns it by the close
