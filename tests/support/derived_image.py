"""A user's image built on ours: a built image plus one layer of files (like `FROM` + `COPY`).

The samples' custom container and transformer expect their model baked into the image
(/mnt/models, /opt/transformer); the real-pod tier builds that image the way a user would,
on top of the model-server image, without a Docker daemon. Only the new layer is written;
the base's layers are streamed from the image cache when the image is imported.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tools.images.archive import write_archive_to
from tools.images.build import Result


def write_layer(files: dict[str, Path], uid: int, dest: Path) -> str:
    """An uncompressed, deterministic layer tar at `dest`: each container path (with its
    parents) from the host file or directory given, readable by everyone, owned by `uid`.
    Returns its diff id."""
    entries: dict[str, Path | None] = {}
    for target, source in files.items():
        parts = Path(target.strip("/")).parts
        for depth in range(1, len(parts)):
            entries.setdefault("/".join(parts[:depth]), None)
        if source.is_dir():
            entries["/".join(parts)] = None
            for path in sorted(source.rglob("*")):
                name = str(Path(*parts) / path.relative_to(source))
                entries[name] = None if path.is_dir() else path
        else:
            entries["/".join(parts)] = source
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            source = entries[name]
            info = tarfile.TarInfo(name)
            info.uid = info.gid = uid
            if source is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = source.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    dest.write_bytes(buffer.getvalue())
    return f"sha256:{hashlib.sha256(buffer.getvalue()).hexdigest()}"


@dataclass(frozen=True)
class DerivedImage:
    """`base` plus one layer; streams itself as a docker archive like a built image."""

    base: Result
    ref: str
    layer: Path
    diff_id: str
    config: bytes

    @property
    def image_id(self) -> str:
        return f"sha256:{hashlib.sha256(self.config).hexdigest()}"

    def write_archive_to(self, out: BinaryIO) -> None:
        layers = [(s.layer.diff_id, s.path) for s in self.base.layers]
        write_archive_to(out, self.ref, self.config, [*layers, (self.diff_id, self.layer)])


def derive(
    base: Result, ref: str, files: dict[str, Path], work: Path, uid: int = 10001
) -> DerivedImage:
    """`base` with `files` copied in (owned by `uid`), named `ref`; the layer goes to `work`."""
    work.mkdir(parents=True, exist_ok=True)
    layer = work / "layer.tar"
    diff_id = write_layer(files, uid, layer)
    config = json.loads(base.config)
    config["rootfs"]["diff_ids"].append(diff_id)
    config.setdefault("history", []).append({"created_by": f"COPY {' '.join(files)}"})
    data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    return DerivedImage(base, ref, layer, diff_id, data)
