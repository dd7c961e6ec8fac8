"""`modelplane router --graph FILE`: serve one InferenceGraph over HTTP and gRPC."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from modelplane import logs
from modelplane.flags import flag_parser, parse_settings
from modelplane.router.errors import GraphError
from modelplane.router.graph import Graph, load_file
from modelplane.router.settings import RouterSettings

PROG = "modelplane router"
log = logging.getLogger("modelplane.router")


def parser() -> argparse.ArgumentParser:
    """The `modelplane router` argument parser (from RouterSettings)."""
    return flag_parser(
        RouterSettings,
        PROG,
        "Serve one InferenceGraph (steps resolved to serviceUrl/nodeName) over HTTP and gRPC. "
        "See docs/router.md.",
    )


def parse_args(argv: Sequence[str]) -> RouterSettings:
    """Flags over env (MODELPLANE_<FLAG>) over defaults; exits 2 when a flag is invalid."""
    p = parser()
    settings = parse_settings(RouterSettings, p, argv)
    if not settings.graph:
        p.error("--graph FILE is required")
    return settings


def main(argv: Sequence[str]) -> int:
    """Load the graph (failing fast on any error in it) and serve until stopped."""
    settings = parse_args(argv)
    logs.configure(settings.log_level, settings.log_format)
    try:
        graph = load_file(settings.graph)
    except (OSError, GraphError) as exc:
        print(f"modelplane router: {exc}", file=sys.stderr)
        return 2
    import uvloop

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(graph, settings))
    except OSError as exc:
        print(f"modelplane router: {exc}", file=sys.stderr)
        return 1
    return 0


async def serve(graph: Graph, settings: RouterSettings) -> None:
    """HTTP (the lean edge) and gRPC (grpc.aio) on one loop until SIGTERM or SIGINT."""
    from modelplane.edge.h1server import LeanServer
    from modelplane.router.app import RouterApp
    from modelplane.router.grpc_edge import start_grpc_server

    app = RouterApp(graph, settings)
    await app.startup()
    http = LeanServer(
        app.handle,
        max_body=settings.max_request_size,
        error_body=app.refused,
        keep_alive=settings.keep_alive_timeout,
        max_header_size=settings.max_header_size,
        header_timeout=settings.header_timeout,
        max_connections=settings.max_connections,
    )
    grpc_server: Any = None
    try:
        try:
            port = await http.start(settings.host, settings.port)
        except OSError as exc:
            where = f"{settings.host}:{settings.port}"
            raise OSError(f"HTTP server could not listen on {where}: {exc}") from exc
        log.info("HTTP listening", extra={"port": port})
        if settings.grpc_port >= 0:
            grpc_server, grpc_port = await start_grpc_server(app, settings.host, settings.grpc_port)
            log.info("gRPC listening", extra={"grpc_port": grpc_port})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        app.ready = False  # readiness fails first, so a proxy stops sending new requests
        await http.close()
        if grpc_server is not None:
            await grpc_server.stop(5)
        await app.shutdown()
