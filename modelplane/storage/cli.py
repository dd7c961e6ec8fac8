"""`modelplane storage pull URI DEST`: the init container that fetches models."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The command line of `modelplane storage`."""
    parser = argparse.ArgumentParser(prog="modelplane storage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pull = commands.add_parser("pull", help="download s3://, gs://, http(s):// into a directory")
    pull.add_argument("uri", help="s3://bucket/prefix, gs://bucket/prefix or http(s)://host/file")
    pull.add_argument("dest", type=Path, help="target directory, e.g. /mnt/models")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 1 with a message on failure."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from modelplane.storage.pull import pull  # deferred: keeps --help fast

    try:
        files = pull(args.uri, args.dest)
    except Exception as error:  # the init container's only job: say why it failed
        print(f"modelplane storage pull: {error}", file=sys.stderr)
        return 1
    for path in files:
        print(path)
    return 0
