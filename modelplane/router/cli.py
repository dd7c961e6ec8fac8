"""`modelplane router --graph FILE`: serve one InferenceGraph over HTTP."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from modelplane.router.errors import GraphError
from modelplane.router.graph import load_file
from modelplane.router.settings import RouterSettings


def parse_args(argv: Sequence[str]) -> RouterSettings:
    """Flags over env (MODELPLANE_<FLAG>) over defaults."""
    env = RouterSettings()
    p = argparse.ArgumentParser(
        prog="modelplane router",
        description="Serve one InferenceGraph (steps resolved to serviceUrl/nodeName) over HTTP. "
        "Every flag is also an env variable MODELPLANE_<FLAG>. See docs/router.md.",
    )
    p.add_argument("--graph", metavar="FILE", default=env.graph, help="graph file, YAML or JSON")
    p.add_argument("--host", default=env.host, help=f"address to bind (default {env.host})")
    p.add_argument("--port", type=int, default=env.port, help=f"port (default {env.port})")
    p.add_argument(
        "--step-timeout",
        type=float,
        metavar="SECONDS",
        default=env.step_timeout,
        help=f"per-attempt timeout of steps that set none (default {env.step_timeout:g})",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        default=env.request_timeout,
        help=f"deadline of a request when the graph sets no timeout (default {env.request_timeout:g})",
    )
    p.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=env.retries,
        help=f"retries on connection errors and 502/503/504 (default {env.retries})",
    )
    p.add_argument(
        "--retry-backoff",
        type=float,
        metavar="SECONDS",
        default=env.retry_backoff,
        help=f"first pause before a retry, doubling (default {env.retry_backoff:g})",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        default=env.max_connections,
        help=f"pooled connections to all upstreams (default {env.max_connections})",
    )
    p.add_argument(
        "--max-request-size",
        type=int,
        metavar="BYTES",
        default=env.max_request_size,
        help=f"largest request body (default {env.max_request_size})",
    )
    p.add_argument(
        "--propagate-header",
        action="append",
        dest="propagate_headers",
        metavar="NAME",
        help="header name or glob forwarded to every step (repeatable; replaces the defaults: "
        + ", ".join(env.propagate_headers)
        + ")",
    )
    p.add_argument(
        "--log-level",
        default=env.log_level,
        choices=["debug", "info", "warning", "error", "critical"],
        help=f"(default {env.log_level})",
    )
    args = vars(p.parse_args(list(argv)))
    if not args["graph"]:
        p.error("--graph FILE is required")
    if args["propagate_headers"] is None:
        args["propagate_headers"] = env.propagate_headers
    return RouterSettings.model_validate(args)


def main(argv: Sequence[str]) -> int:
    """Load the graph (failing fast on any error in it) and serve until stopped."""
    settings = parse_args(argv)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
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
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        http="httptools",
        loop="uvloop",
    )
    return 0
