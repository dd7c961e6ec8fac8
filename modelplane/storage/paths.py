"""Map remote object keys to local files under the destination (pure)."""

from __future__ import annotations

from pathlib import PurePosixPath


def relative_path(key: str, prefix: str) -> str | None:
    """Where `key` goes under the destination when pulling `prefix`; None to skip it.

    A key equal to the prefix is a single file (kept by its base name); otherwise only
    keys inside the prefix "directory" count, so `models/a` does not pull `models/ab/x`.
    """
    if key.endswith("/"):
        return None  # a directory marker
    if key == prefix:
        return PurePosixPath(key).name
    folder = prefix.rstrip("/")
    if folder and not key.startswith(folder + "/"):
        return None
    relative = key[len(folder) :].lstrip("/")
    if not relative or ".." in PurePosixPath(relative).parts:
        raise ValueError(f"object key {key!r} is not a safe relative path")
    return relative
