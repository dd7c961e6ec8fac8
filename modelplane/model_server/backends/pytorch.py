"""PyTorch backend: TorchScript (`.pt`, torch.jit.load) and torch.export programs (`.pt2`).

Neither path unpickles arbitrary objects: there is no plain `torch.load` of a pickled module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from modelplane.model_server.backends.base import Backend, Signature, Tensors
from modelplane.model_server.backends.devices import select_torch_device
from modelplane.model_server.config import ModelConfig, TensorConfig
from modelplane.model_server.errors import InferenceFailed, ModelLoadFailed
from modelplane.model_server.protocol.types import MetadataTensor

log = logging.getLogger(__name__)
# torch's (de)serializers keep global state: load one program at a time.
_LOAD_LOCK = threading.Lock()

# torch dtype name -> V2 datatype
TORCH_TYPES: dict[str, str] = {
    "torch.bool": "BOOL",
    "torch.uint8": "UINT8",
    "torch.uint16": "UINT16",
    "torch.uint32": "UINT32",
    "torch.uint64": "UINT64",
    "torch.int8": "INT8",
    "torch.int16": "INT16",
    "torch.int32": "INT32",
    "torch.int64": "INT64",
    "torch.float16": "FP16",
    "torch.float32": "FP32",
    "torch.float64": "FP64",
    "torch.bfloat16": "BF16",
}


def find_model_file(directory: Path) -> Path:
    """model.pt2, model.pt, or the only *.pt2 / *.pt file in `directory`."""
    for name in ("model.pt2", "model.pt"):
        if (directory / name).is_file():
            return directory / name
    found = sorted([*directory.glob("*.pt2"), *directory.glob("*.pt")])
    if len(found) != 1:
        raise ModelLoadFailed(
            f"{directory}: expected model.pt2, model.pt or exactly one *.pt2/*.pt file"
        )
    return found[0]


def _declared(tensors: Sequence[TensorConfig]) -> list[MetadataTensor]:
    return [MetadataTensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in tensors]


class TorchBackend(Backend):
    """A TorchScript module or an exported program, on cpu or cuda."""

    platform = "pytorch_libtorch"

    def __init__(self, directory: Path, config: ModelConfig) -> None:
        self._directory = directory
        self._config = config
        self._module: Any = None
        self.device = "cpu"
        self._signature = Signature()

    def load(self) -> None:
        import torch

        path = find_model_file(self._directory)
        self.device = select_torch_device(self._config.device, torch.cuda.is_available())
        try:
            with _LOAD_LOCK:
                if path.suffix == ".pt2":
                    self.platform = "pytorch_export"
                    self._load_exported(path)
                else:
                    self._load_torchscript(path)
        except ModelLoadFailed:
            raise
        except Exception as exc:  # torch raises many types for a bad file
            raise ModelLoadFailed(f"{path.name}: torch could not load it: {exc}") from None
        log.info("torch model loaded", extra={"path": str(path), "device": self.device})

    def _load_torchscript(self, path: Path) -> None:
        import torch

        config = self._config
        if not config.inputs or not config.outputs:
            raise ModelLoadFailed(
                f"{path.name}: TorchScript carries no tensor types; declare inputs and outputs in model.yaml"
            )
        module = torch.jit.load(str(path), map_location=self.device)  # type: ignore[no-untyped-call]
        module.eval()
        self._module = module
        self._signature = Signature(
            inputs=_declared(config.inputs), outputs=_declared(config.outputs)
        )

    def _load_exported(self, path: Path) -> None:
        import torch

        program = torch.export.load(str(path))
        if self.device != "cpu":
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, self.device)
        self._module = program.module()
        user_inputs = set(program.graph_signature.user_inputs)
        inputs: list[MetadataTensor] = []
        outputs: list[MetadataTensor] = []
        for node in program.graph.nodes:
            if node.op == "placeholder" and node.name in user_inputs:
                inputs.append(_meta(node.name, node.meta["val"]))
            elif node.op == "output":
                values = node.args[0] if isinstance(node.args[0], (tuple, list)) else [node.args[0]]
                names = [t.name for t in self._config.outputs] or [
                    f"output__{i}" for i in range(len(values))
                ]
                outputs = [
                    _meta(name, value.meta["val"])
                    for name, value in zip(names, values, strict=False)
                ]
        config = self._config
        self._signature = Signature(
            inputs=_declared(config.inputs) if config.inputs else inputs,
            outputs=_declared(config.outputs) if config.outputs else outputs,
        )

    def signature(self) -> Signature:
        return self._signature

    def infer(self, inputs: Tensors) -> Tensors:
        import torch

        args = [_to_torch(inputs[t.name], self.device) for t in self._signature.inputs]
        with torch.inference_mode():
            result = self._module(*args)
        if isinstance(result, dict):
            return {name: _to_numpy(value) for name, value in result.items()}
        values = list(result) if isinstance(result, (tuple, list)) else [result]
        names = [t.name for t in self._signature.outputs]
        if len(values) != len(names):
            raise InferenceFailed(
                f"model returned {len(values)} outputs, its signature has {len(names)}"
            )
        return {name: _to_numpy(value) for name, value in zip(names, values, strict=True)}

    def unload(self) -> None:
        self._module = None
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def _meta(name: str, value: Any) -> MetadataTensor:
    datatype = TORCH_TYPES.get(str(value.dtype))
    if datatype is None:
        raise ModelLoadFailed(f"tensor {name!r}: unsupported torch dtype {value.dtype}")
    shape = [int(dim) if isinstance(dim, int) else -1 for dim in value.shape]
    return MetadataTensor(name=name, datatype=datatype, shape=shape)


def _to_torch(array: np.ndarray[Any, Any], device: str) -> Any:
    import torch

    if array.dtype.kind == "O":
        raise InferenceFailed("BYTES tensors cannot be passed to a torch model")
    if array.dtype == ml_dtypes.bfloat16:
        tensor = torch.from_numpy(np.array(array.view(np.uint16))).view(torch.bfloat16)
    else:
        tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
    return tensor.to(device) if device != "cpu" else tensor


def _to_numpy(value: Any) -> np.ndarray[Any, Any]:
    import torch

    if not isinstance(value, torch.Tensor):
        return np.asarray(value)
    tensor = value.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        raw: np.ndarray[Any, Any] = tensor.view(torch.int16).numpy()
        return raw.view(ml_dtypes.bfloat16)
    out: np.ndarray[Any, Any] = tensor.numpy()
    return out


def create(directory: Path, config: ModelConfig) -> TorchBackend:
    """Backend factory used by the registry."""
    return TorchBackend(directory, config)
