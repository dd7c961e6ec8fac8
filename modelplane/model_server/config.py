"""`model.yaml`: a model's declared name, backend, tensors, batching, instances and device."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelplane.model_server.errors import ModelLoadFailed

BackendName = Literal["onnx", "pytorch", "python"]
Device = Literal["cpu", "cuda", "auto"]
CONFIG_FILE = "model.yaml"

# Triton/KServe platform names accepted as aliases of our backend names.
PLATFORM_ALIASES: dict[str, BackendName] = {
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "onnxruntime_onnx": "onnx",
    "pytorch": "pytorch",
    "pytorch_libtorch": "pytorch",
    "pytorch_export": "pytorch",
    "torchscript": "pytorch",
    "python": "python",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TensorConfig(_Strict):
    """A declared input or output: name, V2 datatype, shape with -1 for variable dims."""

    name: str
    datatype: str
    shape: list[int]


class OutputConfig(TensorConfig):
    """A declared output; `labels` names a file in the model's directory with one class label
    per line (Triton's `label_filename`), written after the index of each class it answers."""

    labels: str | None = None

    @field_validator("labels")
    @classmethod
    def _a_file_name(cls, value: str | None) -> str | None:
        if value is not None and (value in ("", ".", "..") or "/" in value or "\\" in value):
            raise ValueError(f"{value!r} is not a file name in the model's directory")
        return value


class BatchingConfig(_Strict):
    """Dynamic batching knobs (applied by the batching runner)."""

    max_queue_delay_us: int = Field(default=0, ge=0)
    preferred_batch_sizes: list[int] = Field(default_factory=list)
    max_queue_size: int = Field(default=0, ge=0)
    timeout: float | None = Field(default=None, gt=0)


class ModelConfig(_Strict):
    """Everything `model.yaml` may say; all fields optional."""

    name: str | None = None
    backend: str | None = None
    platform: str | None = None
    inputs: list[TensorConfig] = Field(default_factory=list)
    outputs: list[OutputConfig] = Field(default_factory=list)
    max_batch_size: int = Field(default=0, ge=0)
    batching: BatchingConfig | None = None
    instances: int = Field(default=1, ge=1)
    device: Device = "auto"
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)

    def backend_name(self) -> BackendName | None:
        """The backend named by `backend` or `platform`, if any (both must name the same)."""
        named: list[BackendName] = []
        for value in (self.backend, self.platform):
            if value is not None:
                alias = PLATFORM_ALIASES.get(value.lower())
                if alias is None:
                    raise ModelLoadFailed(
                        f"model.yaml: unknown backend/platform {value!r} "
                        f"(one of {', '.join(sorted(PLATFORM_ALIASES))})"
                    )
                named.append(alias)
        if len(set(named)) > 1:
            raise ModelLoadFailed(
                f"model.yaml: backend {self.backend!r} and platform {self.platform!r} disagree"
            )
        return named[0] if named else None


def read_config(directory: Path) -> ModelConfig:
    """Read `<directory>/model.yaml`, or defaults when there is none."""
    path = directory / CONFIG_FILE
    if not path.is_file():
        return ModelConfig()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ModelLoadFailed(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelLoadFailed(f"{path}: expected a mapping at the top level")
    try:
        return ModelConfig.model_validate(raw)
    except ValidationError as exc:
        raise ModelLoadFailed(f"{path}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"])
    return f"{loc}: {err['msg']}"
