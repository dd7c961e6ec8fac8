"""`modelplane serve`: flags (each also MODELPLANE_<FLAG> in the env) to settings, then serve."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from modelplane.model_server.settings import ServerSettings


def parser() -> argparse.ArgumentParser:
    """The `modelplane serve` argument parser; unset flags stay None so the env can fill them."""
    p = argparse.ArgumentParser(
        prog="modelplane serve",
        description="Serve models over the V2 inference protocol (REST and gRPC).",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument(
        "--model-repository", metavar="DIR", help="directory with one subdirectory per model"
    )
    p.add_argument("--model-name", metavar="N", help="name of the single model in --model-dir")
    p.add_argument(
        "--model-dir", metavar="D", help="directory of a single model (with --model-name)"
    )
    p.add_argument(
        "--backend", choices=["onnx", "pytorch", "python"], help="backend when files are ambiguous"
    )
    p.add_argument("--host", help="address to bind (default 0.0.0.0)")
    p.add_argument("--http-port", type=int, help="REST port (default 8080; 0 picks a free one)")
    p.add_argument("--grpc-port", type=int, help="gRPC port (default 8081; -1 disables gRPC)")
    p.add_argument(
        "--metrics-port", type=int, help="Prometheus /metrics port (default: the HTTP port)"
    )
    p.add_argument("--workers", type=int, help="server processes sharing the ports (default 1)")
    p.add_argument("--max-batch-size", type=int, help="override every model's max_batch_size")
    p.add_argument("--max-queue-delay-us", type=int, help="override every model's batching delay")
    p.add_argument("--max-queue-size", type=int, help="override every model's batching queue bound")
    p.add_argument(
        "--request-timeout", type=float, metavar="SECONDS", help="per-request inference deadline"
    )
    p.add_argument(
        "--max-concurrency", type=int, help="in-flight inferences at once (0 = unlimited)"
    )
    p.add_argument(
        "--max-request-size",
        type=int,
        metavar="BYTES",
        help="largest request body (default 64 MiB)",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"])
    p.add_argument(
        "--response-compression",
        action="store_true",
        help="compress responses (gzip/deflate) when the client's Accept-Encoding asks",
    )
    p.add_argument("--drain-seconds", type=float, help="after SIGTERM, stay up not-ready this long")
    p.add_argument(
        "--shutdown-timeout", type=float, help="most seconds to wait for in-flight requests"
    )
    return p


def settings_from_args(argv: Sequence[str]) -> ServerSettings:
    """Flags given on the command line win over MODELPLANE_* env vars, which win over defaults."""
    given: dict[str, Any] = vars(parser().parse_args(list(argv)))
    return ServerSettings(**given)


def serve(settings: ServerSettings) -> int:
    """Serve in this process, or supervise --workers N processes sharing the ports."""
    if settings.workers > 1:
        from modelplane.model_server.workers import serve_workers

        return serve_workers(settings)
    from modelplane.model_server.server import serve_one

    return serve_one(settings)


def main(argv: Sequence[str]) -> int:
    """Entry point of `modelplane serve`."""
    try:
        settings = settings_from_args(argv)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = ".".join(str(part) for part in err["loc"])
            print(f"modelplane serve: {loc + ': ' if loc else ''}{err['msg']}", file=sys.stderr)
        return 2
    from modelplane.model_server import jsonlog

    jsonlog.configure(settings.log_level)
    try:
        return serve(settings)
    except OSError as exc:
        logging.getLogger("modelplane.model_server").error(
            "cannot start", extra={"reason": str(exc)}
        )
        return 1
