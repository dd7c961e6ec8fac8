"""Pure decisions about a model directory: its versions, its backend, its effective config."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from modelplane.model_server.config import BackendName, BatchingConfig, ModelConfig
from modelplane.model_server.errors import ModelLoadFailed
from modelplane.model_server.settings import ServerSettings

DEFAULT_VERSION = "1"


def discover_versions(model_dir: Path) -> dict[str, Path]:
    """Numeric subdirectories as versions; a directory without them is version 1 itself."""
    if not model_dir.is_dir():
        raise ModelLoadFailed(f"{model_dir}: not a directory")
    versions = {
        child.name: child
        for child in model_dir.iterdir()
        if child.is_dir() and child.name.isdigit()
    }
    if not versions:
        return {DEFAULT_VERSION: model_dir}
    return dict(sorted(versions.items(), key=lambda item: int(item[0])))


def detect_backend(file_names: Iterable[str]) -> BackendName | None:
    """The backend implied by the model files present, if any."""
    names = set(file_names)
    if any(name.endswith(".onnx") for name in names):
        return "onnx"
    if any(name.endswith((".pt", ".pt2")) for name in names):
        return "pytorch"
    if "model.py" in names:
        return "python"
    return None


def choose_backend(
    config: ModelConfig, flag: BackendName | None, file_names: Iterable[str], where: Path
) -> BackendName:
    """model.yaml's backend, else the --backend flag, else what the files imply."""
    named = config.backend_name() or flag
    if named is not None:
        return named
    files = sorted(file_names)
    detected = detect_backend(files)
    if detected is None:
        raise ModelLoadFailed(
            f"{where}: no model file found (model.onnx, model.pt, model.pt2 or model.py); "
            f"has {', '.join(files) or 'nothing'}"
        )
    return detected


def apply_overrides(config: ModelConfig, settings: ServerSettings) -> ModelConfig:
    """The config with batching flags (when given) overriding model.yaml."""
    updates: dict[str, object] = {}
    if settings.max_batch_size is not None:
        updates["max_batch_size"] = settings.max_batch_size
    batching = config.batching.model_copy() if config.batching else None
    for field in ("max_queue_delay_us", "max_queue_size"):
        value = getattr(settings, field)
        if value is not None:
            batching = batching or BatchingConfig()
            setattr(batching, field, value)
    if batching is not None:
        updates["batching"] = batching
    return config.model_copy(update=updates) if updates else config
