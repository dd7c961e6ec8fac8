"""Pack an image as a docker archive (`docker save` layout): streamed into any writer (an
importer's stdin: no second copy of the layers on disk), or written to a file atomically."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import BinaryIO

from tools.images.config import canonical, manifest
from tools.images.layer import EPOCH


def _member(name: str, size: int, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, EPOCH
    return info


def write_archive_to(
    out: BinaryIO, ref: str, config: bytes, layers: list[tuple[str, Path]]
) -> None:
    """Stream the archive into `out`: <diff id hex>/layer.tar per layer (each once),
    <config sha256>.json and manifest.json last."""
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    names = [f"{diff_id.removeprefix('sha256:')}/layer.tar" for diff_id, _ in layers]
    written: set[str] = set()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, (_, path) in zip(names, layers, strict=True):
            if name in written:  # one layer twice in an image: stored once
                continue
            written.add(name)
            dir_info = _member(os.path.dirname(name), 0, 0o755)
            dir_info.type = tarfile.DIRTYPE
            tar.addfile(dir_info)
            with path.open("rb") as data:
                tar.addfile(_member(name, path.stat().st_size), data)
        tar.addfile(_member(config_name, len(config)), io.BytesIO(config))
        text = canonical(manifest(ref, config_name, names))
        tar.addfile(_member("manifest.json", len(text)), io.BytesIO(text))


def write_archive(dest: Path, ref: str, config: bytes, layers: list[tuple[str, Path]]) -> None:
    """The archive as a file, renamed into place when complete."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            write_archive_to(out, ref, config, layers)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
