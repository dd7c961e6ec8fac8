"""Unpack model archives (.tar, .tar.gz, .tgz, .zip) without writing outside the target."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


def is_archive(name: str) -> bool:
    """Whether a file name looks like an archive this module unpacks."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def unpack(archive: Path, dest: Path) -> None:
    """Extract an archive into dest; members escaping dest are refused."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            root = dest.resolve()
            for member in bundle.namelist():
                target = (dest / member).resolve()
                if not target.is_relative_to(root):
                    raise ValueError(f"{archive.name}: member {member!r} escapes the target")
            bundle.extractall(dest)
        return
    with tarfile.open(archive) as bundle:
        bundle.extractall(dest, filter="data")
