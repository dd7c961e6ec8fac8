"""ONNX Runtime backend: CUDA provider (with its options) when asked for and present, CPU otherwise."""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from modelplane.model_server.backends.base import Backend, Signature, Tensors
from modelplane.model_server.backends.devices import gpu_present, select_providers
from modelplane.model_server.backends.onnx_cuda import CudaGraphs, bound_run
from modelplane.model_server.backends.onnx_options import (
    MAX_CUDA_GRAPHS,
    OnnxOptions,
    check_tensor_types,
    cuda_applies,
    parse_options,
    with_provider_options,
)
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.errors import InvalidInput, ModelLoadFailed
from modelplane.model_server.protocol.types import MetadataTensor

log = logging.getLogger(__name__)

ONNX_TYPES: dict[str, str] = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(bfloat16)": "BF16",
    "tensor(string)": "BYTES",
}
_BF16_ELEMENT_TYPE = 16  # onnx.TensorProto.BFLOAT16


def find_model_file(directory: Path) -> Path:
    """`model.onnx`, or the only `*.onnx` file in `directory`."""
    preferred = directory / "model.onnx"
    if preferred.is_file():
        return preferred
    found = sorted(directory.glob("*.onnx"))
    if len(found) != 1:
        raise ModelLoadFailed(f"{directory}: expected model.onnx or exactly one *.onnx file")
    return found[0]


def onnx_shape(shape: list[Any]) -> list[int]:
    """ONNX Runtime shape with symbolic/unknown dims as -1."""
    return [dim if isinstance(dim, int) and dim >= 0 else -1 for dim in shape]


class OnnxBackend(Backend):
    """One onnxruntime InferenceSession."""

    platform = "onnxruntime_onnx"

    def __init__(self, directory: Path, config: ModelConfig) -> None:
        self._directory = directory
        self._config = config
        self._session: Any = None
        self._signature = Signature()
        self._bf16 = False
        self._output_names: list[str] = []
        self._graphs: CudaGraphs | None = None
        self._io_binding = False
        self.providers: list[str] = []  # what the session really uses, after load
        self.options = OnnxOptions()  # as read from model.yaml's parameters, after load

    def load(self) -> None:
        import onnxruntime as ort

        path = find_model_file(self._directory)
        self.options = parse_options(self._config.parameters, self._config.device)
        providers = select_providers(
            self._config.device, ort.get_available_providers(), gpu_present()
        )
        cuda = cuda_applies(providers)
        options = ort.SessionOptions()
        if self.options.intra_op_threads is not None:
            options.intra_op_num_threads = self.options.intra_op_threads
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=with_provider_options(providers, self.options)
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadFailed(f"{path.name}: onnxruntime could not load it: {exc}") from None
        self.providers = list(self._session.get_providers())
        inputs = [self._tensor(t) for t in self._session.get_inputs()]
        outputs = [self._tensor(t) for t in self._session.get_outputs()]
        self._signature = Signature(inputs=inputs, outputs=outputs)
        self._output_names = [t.name for t in outputs]
        self._bf16 = any(t.datatype == "BF16" for t in inputs + outputs)
        if cuda:
            check_tensor_types(self.options, [t.datatype for t in inputs + outputs])
            self._io_binding = self.options.io_binding
            if self.options.cuda_graph:
                self._graphs = CudaGraphs(self._session, self._output_names, MAX_CUDA_GRAPHS)
        log.info(
            "onnx model loaded",
            extra={"path": str(path), "providers": providers, "cuda_options_apply": cuda},
        )

    @staticmethod
    def _tensor(node: Any) -> MetadataTensor:
        datatype = ONNX_TYPES.get(node.type)
        if datatype is None:
            raise ModelLoadFailed(f"tensor {node.name!r}: unsupported ONNX type {node.type}")
        return MetadataTensor(name=node.name, datatype=datatype, shape=onnx_shape(node.shape))

    def signature(self) -> Signature:
        return self._signature

    def infer(self, inputs: Tensors) -> Tensors:
        feeds = {name: _to_ort(name, array) for name, array in inputs.items()}
        if self._bf16:
            return self._infer_ort_values(feeds)
        if self._graphs is not None:
            results = self._graphs.run(feeds)
        elif self._io_binding:
            results = bound_run(self._session, self._output_names, feeds)
        else:
            results = self._session.run(self._output_names, feeds)
        return {
            name: _from_ort(value) for name, value in zip(self._output_names, results, strict=True)
        }

    def _infer_ort_values(self, feeds: dict[str, np.ndarray[Any, Any]]) -> Tensors:
        import onnxruntime as ort

        values = {
            name: ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                array.view(np.uint16), onnx_element_type=_BF16_ELEMENT_TYPE
            )
            if array.dtype == ml_dtypes.bfloat16
            else ort.OrtValue.ortvalue_from_numpy(array)
            for name, array in feeds.items()
        }
        results = self._session.run_with_ort_values(self._output_names, values)
        return {
            name: _bf16_from_ort_value(value)
            if value.data_type() == "tensor(bfloat16)"
            else _from_ort(value.numpy())
            for name, value in zip(self._output_names, results, strict=True)
        }

    def unload(self) -> None:
        self._graphs = None
        self._session = None


def _to_ort(name: str, array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.dtype.kind != "O":
        return array
    try:
        return np.vectorize(_as_str, otypes=[np.object_])(array) if array.size else array
    except UnicodeDecodeError:
        raise InvalidInput(
            f"input {name!r}: BYTES element is not UTF-8 (ONNX strings are text)"
        ) from None


def _as_str(item: Any) -> str:
    return item.decode() if isinstance(item, bytes) else str(item)


def _from_ort(value: Any) -> np.ndarray[Any, Any]:
    array = np.asarray(value)
    if array.dtype.kind in "OU":
        encoded = np.empty(array.shape, dtype=np.object_)
        flat = encoded.reshape(-1)
        for i, item in enumerate(array.reshape(-1)):
            flat[i] = item.encode() if isinstance(item, str) else bytes(item)
        return encoded
    return array


def _bf16_from_ort_value(value: Any) -> np.ndarray[Any, Any]:
    """Copy a CPU bfloat16 OrtValue out by address (onnxruntime has no numpy type for it)."""
    shape = value.shape()
    count = int(np.prod(shape)) if shape else 1
    buffer = (ctypes.c_uint16 * count).from_address(value.data_ptr())
    copied: np.ndarray[Any, Any] = np.array(buffer, dtype=np.uint16)
    result: np.ndarray[Any, Any] = copied.view(ml_dtypes.bfloat16).reshape(shape)
    return result


def create(directory: Path, config: ModelConfig) -> OnnxBackend:
    """Backend factory used by the registry."""
    return OnnxBackend(directory, config)
