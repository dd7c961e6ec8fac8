"""Python backend: a user class in `model.py` with `load()` and `predict()` (numpy dict or V2 request)."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from modelplane.model_server.backends.base import Backend, Signature, Tensors
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.errors import InferenceFailed, ModelLoadFailed
from modelplane.model_server.protocol.datatypes import to_dtype
from modelplane.model_server.protocol.types import (
    InferenceRequest,
    InferenceResponse,
    MetadataTensor,
    ResponseOutput,
)

_COUNTER = itertools.count()


def pick_class(module: ModuleType, wanted: str | None) -> type[Any]:
    """The user's model class: `parameters.class` from model.yaml, `Model`, or the only one with predict."""
    if wanted is not None:
        cls = getattr(module, wanted, None)
        if not inspect.isclass(cls):
            raise ModelLoadFailed(f"model.py: no class {wanted!r}")
        return cls
    candidates = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and obj.__module__ == module.__name__
        and callable(getattr(obj, "predict", None))
    ]
    named = [c for c in candidates if c.__name__ == "Model"]
    if named:
        return named[0]
    if len(candidates) != 1:
        raise ModelLoadFailed(
            f"model.py: expected one class with a predict method, found {len(candidates)}; "
            "name it Model or set parameters.class in model.yaml"
        )
    return candidates[0]


def takes_request(predict: Callable[..., Any]) -> bool:
    """Whether `predict` wants the V2 request: its argument is named `request` or typed so."""
    params = list(inspect.signature(predict).parameters.values())
    if not params:
        return False
    first = params[0]
    annotation = first.annotation
    named = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return first.name == "request" or named.endswith("InferenceRequest")


def _resolve(result: Any) -> Any:
    """An `async def predict` result, run to completion on this worker thread's own loop."""
    if inspect.iscoroutine(result):
        return asyncio.run(result)
    return result


def _output_array(out: ResponseOutput) -> np.ndarray[Any, Any]:
    if out.array is not None:
        return np.asarray(out.array)
    dtype = to_dtype(out.datatype, f"output {out.name!r} datatype")
    return np.asarray(out.data, dtype=dtype).reshape(out.shape)


class PythonBackend(Backend):
    """Runs user code; its signature comes from model.yaml (unchecked when none is declared)."""

    platform = "python"

    def __init__(self, directory: Path, config: ModelConfig) -> None:
        self._directory = directory
        self._config = config
        self._instance: Any = None
        self._module_name = f"modelplane_user_model_{next(_COUNTER)}"
        self._takes_request = False

    def load(self) -> None:
        path = self._directory / "model.py"
        if not path.is_file():
            raise ModelLoadFailed(f"{self._directory}: no model.py")
        spec = importlib.util.spec_from_file_location(self._module_name, path)
        if spec is None or spec.loader is None:
            raise ModelLoadFailed(f"{path}: cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[self._module_name] = module
        try:
            spec.loader.exec_module(module)
            wanted = self._config.parameters.get("class")
            cls = pick_class(module, str(wanted) if wanted is not None else None)
            takes_dir = len(inspect.signature(cls).parameters) > 0
            self._instance = cls(self._directory) if takes_dir else cls()
            if callable(getattr(self._instance, "load", None)):
                self._instance.load()
            self._takes_request = takes_request(self._instance.predict)
        except ModelLoadFailed:
            sys.modules.pop(self._module_name, None)
            raise
        except Exception as exc:
            sys.modules.pop(self._module_name, None)
            raise ModelLoadFailed(f"model.py: {type(exc).__name__}: {exc}") from None

    def infer_request(self, request: InferenceRequest) -> Tensors:
        """Call a request-mode predict; it returns a dict of arrays (or an InferenceResponse)."""
        result = _resolve(self._instance.predict(request))
        if isinstance(result, InferenceResponse):
            return {out.name: _output_array(out) for out in result.outputs}
        return self._as_tensors(result)

    def signature(self) -> Signature:
        config = self._config

        def tensors(declared: list[Any]) -> list[MetadataTensor]:
            return [
                MetadataTensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in declared
            ]

        return Signature(
            inputs=tensors(config.inputs),
            outputs=tensors(config.outputs),
            checked=bool(config.inputs),
            takes_request=self._takes_request,
        )

    def infer(self, inputs: Tensors) -> Tensors:
        return self._as_tensors(_resolve(self._instance.predict(inputs)))

    @staticmethod
    def _as_tensors(result: Any) -> Tensors:
        if not isinstance(result, dict):
            raise InferenceFailed(
                f"predict returned {type(result).__name__}, expected a dict of arrays"
            )
        return {str(name): np.asarray(value) for name, value in result.items()}

    def unload(self) -> None:
        if self._instance is not None and callable(getattr(self._instance, "unload", None)):
            self._instance.unload()
        self._instance = None
        sys.modules.pop(self._module_name, None)


def create(directory: Path, config: ModelConfig) -> PythonBackend:
    """Backend factory used by the registry."""
    return PythonBackend(directory, config)
