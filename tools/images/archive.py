"""Pack an image as a docker archive (`docker save` layout), written atomically."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

from tools.images.config import canonical, manifest
from tools.images.layer import EPOCH


def _member(name: str, size: int, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, EPOCH
    return info


def write_archive(dest: Path, ref: str, config: bytes, layers: list[tuple[str, Path]]) -> None:
    """dest: manifest.json, <config sha256>.json and <diff id hex>/layer.tar per layer."""
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    names = [f"{diff_id.removeprefix('sha256:')}/layer.tar" for diff_id, _ in layers]
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, (_, path) in zip(names, layers, strict=True):
                if name in tar.getnames():  # one layer twice in an image: stored once
                    continue
                dir_info = _member(os.path.dirname(name), 0, 0o755)
                dir_info.type = tarfile.DIRTYPE
                tar.addfile(dir_info)
                with path.open("rb") as data:
                    tar.addfile(_member(name, path.stat().st_size), data)
            tar.addfile(_member(config_name, len(config)), io.BytesIO(config))
            text = canonical(manifest(ref, config_name, names))
            tar.addfile(_member("manifest.json", len(text)), io.BytesIO(text))
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
