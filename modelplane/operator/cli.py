"""`modelplane operator`: run the operator (kopf) cluster-wide or for some namespaces."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelplane import logs
from modelplane.flags import Flag, flag_parser, parse_settings
from modelplane.logs import LoggingSettings

PROG = "modelplane operator"


class OperatorFlags(LoggingSettings):
    """How the operator process runs; its configuration proper is OperatorConfig (--config)."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_", extra="ignore")

    namespaces: Annotated[list[str], Flag(names=("-n", "--namespace"), metavar="NS")] = Field(
        default_factory=list,
        description="watch only this namespace (repeatable; default: all namespaces)",
    )
    all_namespaces: Annotated[bool, Flag(names=("-A", "--all-namespaces"))] = Field(
        default=False,
        description="watch every namespace (the default when no --namespace is given)",
    )
    config: Path | None = Field(
        default=None, description="YAML settings file (a mounted ConfigMap)"
    )
    lease_namespace: str | None = Field(
        default=None,
        description="elect a leader through a Lease in this namespace, so that several "
        "replicas are safe (the chart sets it to its own namespace); without it this "
        "process reconciles alone",
    )
    lease_name: str = Field(default="modelplane-operator", description="the Lease's name")
    liveness: str | None = Field(
        default=None, description="serve a liveness probe, e.g. http://0.0.0.0:8080/healthz"
    )
    verbose: bool = Field(default=False, description="same as --log-level=debug")


def build_parser() -> argparse.ArgumentParser:
    """The command line of `modelplane operator` (from OperatorFlags)."""
    return flag_parser(OperatorFlags, PROG, __doc__ or "")


def parse_flags(argv: Sequence[str]) -> OperatorFlags:
    """Flags over MODELPLANE_* env over defaults; exits 2 when they are invalid."""
    parser = build_parser()
    flags = parse_settings(OperatorFlags, parser, argv)
    if flags.all_namespaces and flags.namespaces:
        parser.error("use either --namespace or --all-namespaces")
    return flags


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags, configure logging, run kopf until interrupted."""
    import sys

    args = parse_flags(sys.argv[1:] if argv is None else argv)
    import kopf  # deferred: the operator extra

    from modelplane.operator.config import load_config
    from modelplane.operator.handlers import Operator
    from modelplane.operator.identity import current_identity
    from modelplane.operator.leader import LeaseSettings

    config = load_config(args.config)
    # kopf's records too: a line about an object carries it as "object" (plain: [ns/name])
    logs.configure("debug" if args.verbose else args.log_level, args.log_format)
    identity = current_identity()
    lease = None
    if args.lease_namespace:
        lease = LeaseSettings(args.lease_namespace, identity, name=args.lease_name)
    operator = Operator(config, namespaces=args.namespaces, lease=lease)
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
            identity=identity,  # type: ignore[arg-type]
        )
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()
    return 0
