"""`modelplane router --graph FILE`: serve one InferenceGraph over HTTP and gRPC."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

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
    from modelplane.router.serving import edge_threads

    try:
        graph = load_file(settings.graph)
        edge_threads(settings.http_edge, graph)  # a choice the graph cannot take stops here
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
    """HTTP and gRPC (`serving.open_edges`) until SIGTERM or SIGINT."""
    from modelplane.router.app import RouterApp
    from modelplane.router.serving import open_edges

    app = RouterApp(graph, settings)
    edges = None
    try:
        edges = await open_edges(app, settings, settings.host, settings.port, settings.grpc_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping")
    finally:
        app.ready = False  # readiness fails first, so a proxy stops sending new requests
        if edges is not None:
            await edges.close()
        await app.shutdown()
