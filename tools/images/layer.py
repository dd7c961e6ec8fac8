"""Layers: what a build step changed in a root filesystem, as a deterministic tar.

A layer tar lists entries sorted by name (parents first), with one fixed mtime, numeric
uid/gid and no user or group names, uncompressed; its digest is the sha256 of those bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Every file's mtime in every layer, and the images' creation time: 2024-01-01T00:00:00Z.
EPOCH = 1704067200


@dataclass(frozen=True)
class Entry:
    """What a snapshot remembers of one path (lstat, and a symlink's target)."""

    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ino: int
    target: str | None


@dataclass(frozen=True)
class Changes:
    paths: tuple[str, ...]  # to write, sorted, parents included
    deleted: tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    diff_id: str  # "sha256:<hex>"
    size: int


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under root (relative, '/'-separated), symlinks not followed."""
    out: dict[str, Entry] = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(top, name)
            st = os.lstat(full)
            target = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
            rel = os.path.relpath(full, root)
            out[rel] = Entry(
                st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ino, target
            )
    return out


def _same(a: Entry, b: Entry) -> bool:
    if stat.S_ISDIR(a.mode) and stat.S_ISDIR(b.mode):  # a directory's mtime is not content
        return (a.mode, a.uid, a.gid) == (b.mode, b.uid, b.gid)
    return a == b


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> Changes:
    """What to write for a step that turned `before` into `after`."""
    changed = {
        path
        for path, entry in after.items()
        if path not in before or not _same(before[path], entry)
    }
    with_parents = set(changed)
    for path in changed:
        parent = os.path.dirname(path)
        while parent and parent not in with_parents:
            with_parents.add(parent)
            parent = os.path.dirname(parent)
    gone = {path for path in before if path not in after}
    deleted = {path for path in gone if os.path.dirname(path) not in gone}  # topmost only
    return Changes(tuple(sorted(with_parents)), tuple(sorted(deleted)))


class _Hashing:
    """A write-only file that hashes what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.out.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()


def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = EPOCH
    info.uname = info.gname = ""
    return info


def write_layer(root: Path, change: Changes, dest: Path) -> Layer:
    """Write the changed paths of root (and whiteouts for deleted ones) to dest."""
    with dest.open("wb") as raw:
        sink = _Hashing(raw)
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            entries = [(path, False) for path in change.paths] + [
                (os.path.join(os.path.dirname(p), ".wh." + os.path.basename(p)), True)
                for p in change.deleted
            ]
            for name, whiteout in sorted(entries):
                if whiteout:
                    info = normalize(tarfile.TarInfo(name))
                    tar.addfile(info)
                    continue
                info = tar.gettarinfo(str(root / name), arcname=name)
                if info is None:  # a socket: nothing an image can hold
                    continue
                normalize(info)
                if info.isreg():
                    with (root / name).open("rb") as data:
                        tar.addfile(info, data)
                else:
                    tar.addfile(info)
        raw.flush()
    return Layer(f"sha256:{sink.sha.hexdigest()}", sink.size)
