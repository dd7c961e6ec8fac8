"""The backend interface: load, signature, infer (numpy dict in/out, or the whole V2 request), unload."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from modelplane.model_server.errors import InferenceFailed
from modelplane.model_server.protocol.types import InferenceRequest, MetadataTensor

Tensors = dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True)
class Signature:
    """The model's inputs and outputs; `checked` False means inputs are not validated.

    `takes_request`: the model runs on the whole V2 request (`Backend.infer_request`), not on
    decoded tensors; its declared inputs are still checked, and it is never batched.
    """

    inputs: list[MetadataTensor] = field(default_factory=list)
    outputs: list[MetadataTensor] = field(default_factory=list)
    checked: bool = True
    takes_request: bool = False

    @functools.cached_property
    def inputs_by_name(self) -> dict[str, MetadataTensor]:
        """Inputs keyed by name (computed once per loaded model, not per request)."""
        return {t.name: t for t in self.inputs}

    @functools.cached_property
    def output_names(self) -> frozenset[str]:
        """Names of the declared outputs."""
        return frozenset(t.name for t in self.outputs)

    @functools.cached_property
    def output_types(self) -> dict[str, str]:
        """Declared outputs' datatypes keyed by name (once per loaded model)."""
        return {t.name: t.datatype for t in self.outputs}


class Backend(Protocol):
    """What every backend provides; `infer` blocks and is run off the event loop.

    Backends subclass this protocol, so they inherit `infer_request` when they take tensors only.
    """

    platform: str

    def load(self) -> None:
        """Load the model into memory (and onto its device)."""

    def signature(self) -> Signature:
        """Inputs and outputs, available after `load`."""

    def infer(self, inputs: Tensors) -> Tensors:
        """Run the model on named numpy tensors."""

    def infer_request(self, request: InferenceRequest) -> Tensors:
        """Run the model on the whole V2 request; called only when `signature().takes_request`."""
        raise InferenceFailed(f"{self.platform} models run on tensors, not on the whole request")

    def unload(self) -> None:
        """Free the model's memory."""
