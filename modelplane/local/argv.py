"""Pure rewriting of a container's command line for a local process (flags and paths)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath


def set_flag(args: Sequence[str], flag: str, value: str) -> list[str]:
    """args with every `--flag=X` / `--flag X` set to value, or `--flag=value` appended."""
    out: list[str] = []
    found = False
    skip = False
    for index, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg == flag and index + 1 < len(args):
            out.append(f"{flag}={value}")
            found = skip = True
        elif arg.startswith(flag + "="):
            out.append(f"{flag}={value}")
            found = True
        else:
            out.append(arg)
    if not found:
        out.append(f"{flag}={value}")
    return out


def has_flag(args: Sequence[str], flag: str) -> bool:
    """Whether `--flag` is given, in either form."""
    return any(arg == flag or arg.startswith(flag + "=") for arg in args)


def map_path(value: str, mounts: Mapping[str, str]) -> str:
    """value with a leading container path (longest mount first) replaced by its local path.

    Applies to a bare path and to the value part of `--flag=/path`.
    """
    flag, eq, rest = value.partition("=")
    if eq and flag.startswith("-"):
        return f"{flag}={map_path(rest, mounts)}"
    for inside in sorted(mounts, key=len, reverse=True):
        prefix = inside.rstrip("/")
        if value == prefix or value.startswith(prefix + "/"):
            tail = PurePosixPath(value).relative_to(prefix)
            local = mounts[inside]
            return local if str(tail) == "." else f"{local.rstrip('/')}/{tail}"
    return value


def map_paths(args: Sequence[str], mounts: Mapping[str, str]) -> list[str]:
    """Every argument passed through map_path."""
    return [map_path(arg, mounts) for arg in args]
