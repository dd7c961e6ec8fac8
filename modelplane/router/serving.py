"""The router's two edges around one RouterApp: HTTP and gRPC, opened and closed together.

`modelplane router` serves through `open_edges`, and so do the component tests, so what they
test is what runs. The HTTP edge is one of two servers with the same behaviour
(`modelplane.edge`): `h1threads` (a thread per client connection; inference requests run the
graph on it with blocking calls to its steps, REST and gRPC, the shorter hop) or `h1server` (one asyncio
event loop, the default), chosen by `edge_threads` from ``--http-edge``. gRPC is always
grpc.aio on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from modelplane.api.inference_graph import DEFAULT_HTTP_EDGE
from modelplane.edge.h1server import LeanServer
from modelplane.edge.h1threads import ThreadedServer
from modelplane.router.app import RouterApp
from modelplane.router.graph import Graph
from modelplane.router.grpc_edge import start_grpc_server
from modelplane.router.settings import RouterSettings

log = logging.getLogger("modelplane.router")


def edge_threads(choice: str | None, graph: Graph) -> bool:
    """Whether REST requests run on threads rather than the loop: as ``--http-edge`` says,
    else as the graph file's ``httpEdge`` does, else `DEFAULT_HTTP_EDGE`."""
    return (choice or graph.http_edge or DEFAULT_HTTP_EDGE) == "threads"


@dataclass
class Edges:
    """The open edges and their ports (gRPC's is None when it is off)."""

    http: LeanServer | ThreadedServer
    port: int
    grpc: Any
    grpc_port: int | None

    async def close(self, grace: float = 30.0) -> None:
        """Finish requests in progress (at most `grace` s) and stop both edges."""
        if isinstance(self.http, ThreadedServer):
            await asyncio.to_thread(self.http.close, grace)
        else:
            await self.http.close(grace)
        if self.grpc is not None:
            await self.grpc.stop(min(grace, 5.0))


async def open_edges(
    app: RouterApp, settings: RouterSettings, host: str, port: int, grpc_port: int
) -> Edges:
    """Start the app (on the running loop) and listen: HTTP on host:port, gRPC on grpc_port
    (-1: none). OSError names the edge that could not listen."""
    await app.startup()
    limits: dict[str, Any] = {
        "max_body": settings.max_request_size,
        "error_body": app.refused,
        "keep_alive": settings.keep_alive_timeout,
        "max_header_size": settings.max_header_size,
        "header_timeout": settings.header_timeout,
        "max_connections": settings.max_connections,
    }
    http: LeanServer | ThreadedServer
    try:
        if edge_threads(settings.http_edge, app.graph):
            app.start_threads()
            http = ThreadedServer(app.handle_blocking, **limits)
            bound = http.start(host, port)
        else:
            http = LeanServer(app.handle, **limits)
            bound = await http.start(host, port)
    except OSError as exc:
        raise OSError(f"HTTP server could not listen on {host}:{port}: {exc}") from exc
    edge = "threads" if isinstance(http, ThreadedServer) else "loop"
    log.info("HTTP listening", extra={"port": bound, "http_edge": edge})
    edges = Edges(http, bound, None, None)
    if grpc_port >= 0:
        try:
            edges.grpc, edges.grpc_port = await start_grpc_server(app, host, grpc_port)
        except BaseException:
            await edges.close(1.0)
            raise
        log.info("gRPC listening", extra={"grpc_port": edges.grpc_port})
    return edges
