"""Model backends behind one small interface; modules are imported only when used."""

from __future__ import annotations

import importlib
from pathlib import Path

from modelplane.model_server.backends.base import Backend
from modelplane.model_server.config import BackendName, ModelConfig

_MODULES: dict[str, str] = {
    "onnx": "modelplane.model_server.backends.onnx",
    "pytorch": "modelplane.model_server.backends.pytorch",
    "python": "modelplane.model_server.backends.python",
}


def create_backend(kind: BackendName, directory: Path, config: ModelConfig) -> Backend:
    """A backend of `kind` for the model files in `directory` (not loaded yet)."""
    module = importlib.import_module(_MODULES[kind])
    backend: Backend = module.create(directory, config)
    return backend
