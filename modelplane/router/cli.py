"""`modelplane router --graph FILE`: serve one InferenceGraph over HTTP."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelplane import logs
from modelplane.flags import flag_parser, parse_settings
from modelplane.router.errors import GraphError
from modelplane.router.graph import load_file
from modelplane.router.settings import RouterSettings

PROG = "modelplane router"


def parser() -> argparse.ArgumentParser:
    """The `modelplane router` argument parser (from RouterSettings)."""
    return flag_parser(
        RouterSettings,
        PROG,
        "Serve one InferenceGraph (steps resolved to serviceUrl/nodeName) over HTTP. "
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
    import uvicorn

    from modelplane.router.app import RouterApp

    app = RouterApp(graph, settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # logging is set up above, the same way in every process
        access_log=False,
        lifespan="on",
        http="httptools",
        loop="uvloop",
    )
    return 0
