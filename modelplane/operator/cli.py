"""`modelplane operator`: run the operator (kopf) cluster-wide or for some namespaces."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The command line of `modelplane operator`."""
    parser = argparse.ArgumentParser(prog="modelplane operator", description=__doc__)
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        dest="namespaces",
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (the default when no --namespace is given)",
    )
    parser.add_argument("--config", type=Path, help="YAML settings file (a mounted ConfigMap)")
    parser.add_argument(
        "--liveness", help="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz"
    )
    parser.add_argument("--log-format", choices=["json", "plain", "full"], default="json")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--verbose", action="store_true", help="same as --log-level=debug")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, configure logging, run kopf until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.all_namespaces and args.namespaces:
        parser.error("use either --namespace or --all-namespaces")
    import logging

    import kopf  # deferred: the operator extra

    from modelplane.operator.config import load_config
    from modelplane.operator.handlers import Operator
    from modelplane.operator.identity import current_identity

    config = load_config(args.config)
    kopf.configure(log_format=kopf.LogFormat[args.log_format.upper()])
    logging.getLogger().setLevel("DEBUG" if args.verbose else args.log_level.upper())
    operator = Operator(config, namespaces=args.namespaces)
    loop = asyncio.new_event_loop()
    try:
        kopf.run(
            loop=loop,
            registry=operator.registry(),
            standalone=True,
            clusterwide=not args.namespaces,
            namespaces=args.namespaces,
            liveness_endpoint=args.liveness,
            # kopf types it as a NewType of str that it does not export
            identity=current_identity(),  # type: ignore[arg-type]
        )
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()
    return 0
