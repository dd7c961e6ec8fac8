"""The backend interface: load, signature, infer (numpy dict in/out), unload."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from modelplane.model_server.protocol.types import MetadataTensor

Tensors = dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True)
class Signature:
    """The model's inputs and outputs; `checked` False means inputs are not validated."""

    inputs: list[MetadataTensor] = field(default_factory=list)
    outputs: list[MetadataTensor] = field(default_factory=list)
    checked: bool = True

    @functools.cached_property
    def inputs_by_name(self) -> dict[str, MetadataTensor]:
        """Inputs keyed by name (computed once per loaded model, not per request)."""
        return {t.name: t for t in self.inputs}

    @functools.cached_property
    def output_names(self) -> frozenset[str]:
        """Names of the declared outputs."""
        return frozenset(t.name for t in self.outputs)


class Backend(Protocol):
    """What every backend provides; `infer` blocks and is run off the event loop."""

    platform: str

    def load(self) -> None:
        """Load the model into memory (and onto its device)."""

    def signature(self) -> Signature:
        """Inputs and outputs, available after `load`."""

    def infer(self, inputs: Tensors) -> Tensors:
        """Run the model on named numpy tensors."""

    def unload(self) -> None:
        """Free the model's memory."""
