"""The layer store: layer tars by digest, and which build step (by input hash) made which."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tools.images.cache import read_json, write_atomic
from tools.images.layer import Changes, Layer, write_layer


@dataclass(frozen=True)
class Stored:
    layer: Layer
    path: Path
    created_by: str


class Store:
    def __init__(self, root: Path) -> None:
        self.layers = root / "layers"
        self.steps = root / "steps"

    def path(self, layer: Layer) -> Path:
        return self.layers / f"{layer.diff_id.removeprefix('sha256:')}.tar"

    def lookup(self, step_key: str) -> Stored | None:
        """The layer a step with these inputs made before, if its tar is still there."""
        record = read_json(self.steps / f"{step_key}.json")
        if record is None:
            return None
        layer = Layer(str(record["diff_id"]), int(str(record["size"])))
        path = self.path(layer)
        if not path.is_file() or path.stat().st_size != layer.size:
            return None
        return Stored(layer, path, str(record["created_by"]))

    def put(self, step_key: str, root: Path, change: Changes, created_by: str) -> Stored:
        """Write the layer of a step's changes and remember it under the step's key."""
        self.layers.mkdir(parents=True, exist_ok=True)
        tmp = self.layers / f".{step_key}.{os.getpid()}.tmp"
        try:
            layer = write_layer(root, change, tmp)
            tmp.replace(self.path(layer))
        finally:
            tmp.unlink(missing_ok=True)
        record = {"diff_id": layer.diff_id, "size": layer.size, "created_by": created_by}
        write_atomic(self.steps / f"{step_key}.json", json.dumps(record).encode())
        return Stored(layer, self.path(layer), created_by)

    def prune(self, keep: set[str]) -> list[int]:
        """Remove the layers not in `keep` and the step records that point at them; their sizes."""
        for path in self.steps.glob("*.json"):
            record = read_json(path)
            if record is None or str(record.get("diff_id")) not in keep:
                path.unlink()
        freed = []
        for path in self.layers.glob("*.tar"):
            if f"sha256:{path.stem}" not in keep:
                freed.append(path.stat().st_size)
                path.unlink()
        return freed
