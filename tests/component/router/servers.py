"""Real sockets for router component tests: uvicorn in a thread, a raw TCP upstream, free ports."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve_asgi(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (random port) in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan=lifespan, http="httptools"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 10s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class DroppingServer:
    """A raw HTTP/1.1 server that hangs up on its first `drops` connections, then answers."""

    def __init__(self, drops: int, body: bytes) -> None:
        self.drops = drops
        self.body = body
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections <= self.drops:
            writer.close()
            return
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(self.body)}\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()

    def __enter__(self) -> DroppingServer:
        threading.Thread(target=self._run, daemon=True).start()
        if not self._ready.wait(10):
            raise RuntimeError("server did not start")
        return self

    def _run(self) -> None:
        self._loop.run_until_complete(self._start())
        self._loop.run_forever()

    def __exit__(self, *exc: object) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)


EDGE = {"now": "loop"}  # the HTTP edge serve_router opens (`both_edges` in conftest sets it)


@contextlib.contextmanager
def serve_router(app: Any) -> Iterator[tuple[str, str]]:
    """A RouterApp on its own edges (HTTP and gRPC) as `modelplane router` opens them
    (`serving.open_edges`), one event loop in a thread: (base URL, gRPC target). The HTTP edge
    is `EDGE`'s when neither the app's settings nor its graph choose one."""
    from modelplane.edge.h1threads import ThreadedServer
    from modelplane.router.serving import edge_threads, open_edges

    settings = app.settings
    if settings.http_edge is None and app.graph.http_edge is None and EDGE["now"] == "threads":
        settings = settings.model_copy(update={"http_edge": "threads"})

    ports: list[tuple[int, int]] = []
    stop: list[asyncio.Event] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        edges = await open_edges(app, settings, "127.0.0.1", 0, 0)
        threads = edge_threads(settings.http_edge, app.graph)
        assert isinstance(edges.http, ThreadedServer) == threads, "the edge asked for"
        assert edges.grpc_port is not None
        ports.append((edges.port, edges.grpc_port))
        try:
            await stop[0].wait()
        finally:
            await edges.close(grace=5)
            await app.shutdown()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not ports:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the router did not start within 10s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{ports[0][0]}", f"127.0.0.1:{ports[0][1]}"
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(timeout=10)
        loop.close()
