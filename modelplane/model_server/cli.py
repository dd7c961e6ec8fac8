"""`modelplane serve`: flags (each also MODELPLANE_<FLAG> in the env) to settings, then serve."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from modelplane.flags import flag_parser, parse_settings
from modelplane.flags import settings_from_args as from_args
from modelplane.model_server.settings import ServerSettings

PROG = "modelplane serve"


def parser() -> argparse.ArgumentParser:
    """The `modelplane serve` argument parser; unset flags are left to the env and defaults."""
    return flag_parser(
        ServerSettings,
        PROG,
        "Serve models over the V2 inference protocol (REST and gRPC).",
    )


def settings_from_args(argv: Sequence[str]) -> ServerSettings:
    """Flags given on the command line win over MODELPLANE_* env vars, which win over defaults."""
    return from_args(ServerSettings, parser(), argv)


def serve(settings: ServerSettings) -> int:
    """Serve in this process, or supervise --workers N processes sharing the ports."""
    if settings.workers > 1:
        from modelplane.model_server.workers import serve_workers

        return serve_workers(settings)
    from modelplane.model_server.server import serve_one

    return serve_one(settings)


def main(argv: Sequence[str]) -> int:
    """Entry point of `modelplane serve`."""
    settings = parse_settings(ServerSettings, parser(), argv)  # exits 2 when invalid
    from modelplane import logs

    logs.configure(settings.log_level, settings.log_format)
    try:
        return serve(settings)
    except OSError as exc:
        logging.getLogger("modelplane.model_server").error(
            "cannot start", extra={"reason": str(exc)}
        )
        return 1
