"""The `modelplane` command: dispatches each subcommand to the part that owns it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module with `main(argv) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("modelplane.model_server.cli", "run the V2 model server"),
    "router": ("modelplane.router.cli", "run the InferenceGraph router"),
    "operator": ("modelplane.operator.cli", "run the Kubernetes operator"),
    "run": ("modelplane.local.cli", "run InferenceService/InferenceGraph YAML locally"),
    "crds": ("modelplane.api.cli", "print or write the generated CRD YAML"),
    "storage": ("modelplane.storage.cli", "pull models from s3://, gs://, http(s):// URIs"),
}


def usage() -> str:
    lines = ["usage: modelplane COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0
    if args[0] == "--version":
        from modelplane import __version__

        print(__version__)
        return 0
    entry = COMMANDS.get(args[0])
    if entry is None:
        print(f"modelplane: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(entry[0])
    code: int = module.main(args[1:])
    return code
