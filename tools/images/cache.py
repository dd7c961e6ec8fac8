"""Where image builds keep their work: ${MODELPLANE_CACHE:-~/.cache/modelplane}/images.

images/
  <name>.tar           the docker archive of an image (what `ctr images import` reads)
  <name>.json          what that archive was built from (its key, ref, layers, size)
  layers/<hex>.tar     layer tars by digest (sha256 of the uncompressed tar)
  steps/<key>.json     a build step's inputs hash -> the layer it made
  wheels/              wheels the host fetched for the images' venvs
  work/                root filesystems being built (removed after each build)
  .lock                one build at a time per cache
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Bumped when the way a layer is made changes, so that every cached step is rebuilt.
RECIPE = "1"


def cache_root() -> Path:
    base = os.environ.get("MODELPLANE_CACHE") or str(Path.home() / ".cache" / "modelplane")
    return Path(base) / "images"


def key(*parts: object) -> str:
    """A stable hash of JSON-able inputs (and the recipe version)."""
    text = json.dumps([RECIPE, *parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def hash_files(root: Path, paths: list[str], skip: tuple[str, ...] = ()) -> str:
    """A hash of the named files and directories under root (names and contents), skipping
    any path with a part in `skip`."""
    digest = hashlib.sha256()
    for name in paths:
        top = root / name
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in files:
            rel = path.relative_to(root)
            if any(part in skip or part.endswith(".pyc") for part in rel.parts):
                continue
            digest.update(f"{rel}\0{path.stat().st_mode & 0o111}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def read_json(path: Path) -> dict[str, object] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the cache's build lock (other builds wait)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
