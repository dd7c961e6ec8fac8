"""`modelplane storage pull URI DEST`: the init container that fetches models."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from modelplane import logs
from modelplane.flags import flag_parser, report
from modelplane.storage.settings import StorageSettings

PROG = "modelplane storage"


def build_parser() -> argparse.ArgumentParser:
    """The command line of `modelplane storage`."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    pull = commands.add_parser("pull", help="download s3://, gs://, http(s):// into a directory")
    pull.add_argument("uri", help="s3://bucket/prefix, gs://bucket/prefix or http(s)://host/file")
    pull.add_argument("dest", type=Path, help="target directory, e.g. /mnt/models")
    flag_parser(StorageSettings, f"{PROG} pull", "", parser=pull)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; 0 on success, 1 with a message on failure."""
    given = vars(build_parser().parse_args(argv))
    command, uri, dest = given.pop("command"), given.pop("uri"), given.pop("dest")
    assert command == "pull"
    try:
        settings = StorageSettings(**given)
    except ValidationError as exc:
        return report(PROG, exc)
    logs.configure(settings.log_level, settings.log_format)
    from modelplane.storage.pull import pull  # deferred: keeps --help fast

    try:
        files = pull(uri, dest, settings)
    except Exception as error:  # the init container's only job: say why it failed
        print(f"modelplane storage pull: {error}", file=sys.stderr)
        return 1
    for path in files:
        print(path)
    return 0
