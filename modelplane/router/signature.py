"""A graph's signature as one V2 model, pure: its inputs, outputs and batch size, from those of
the models its steps call, so a client that reads a model's metadata or configuration first
(Triton's perf_analyzer, tritonclient's helpers) can call a graph as it calls a model.

- Sequence: the first step's inputs (it gets the request), the last step's outputs.
- Ensemble: the first member's inputs (every member gets the request), and every member's
  outputs named ``<step>.<output>``, as the graph's answer names them.
- Switch and Splitter: their first step's inputs and outputs (the steps are alternatives).
- A step that reaches another node takes that node's signature.
- ``max_batch_size``: the smallest of the models' (0 when one does not batch): what every
  model of the graph takes.

A model's configuration is Triton's (``input``/``output`` with ``data_type`` and ``dims``);
one without it (a V2 server without Triton's configuration extension) is read from its
metadata: no batching, its shapes as dims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelplane.router.errors import NotV2
from modelplane.router.graph import Graph, Node, Step

PLATFORM = "modelplane-inference-graph"
_TYPE = "TYPE_"
_BYTES, _STRING = "BYTES", "STRING"  # V2's name and Triton's configuration's for strings

Tensor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Signature:
    """A model's (or graph's) tensors as its metadata gives them (name, datatype, shape) and as
    its configuration does (name, data_type, dims), and its max_batch_size."""

    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    config_inputs: tuple[Tensor, ...]
    config_outputs: tuple[Tensor, ...]
    max_batch_size: int


def service_steps(graph: Graph) -> list[Step]:
    """The steps that call a model, each once, in graph order."""
    return [step for node in graph.nodes.values() for step in node.steps if not step.node_name]


def model_signature(metadata: Any, config: Any) -> Signature:
    """A model's signature from its V2 metadata document and its Triton configuration (None
    when the server has none); NotV2 when the metadata names no tensors."""
    if not isinstance(metadata, dict):
        raise NotV2("its metadata is not a JSON object")
    inputs, outputs = _tensors(metadata, "inputs"), _tensors(metadata, "outputs")
    if isinstance(config, dict) and ("input" in config or "output" in config):
        return Signature(
            inputs,
            outputs,
            _config_tensors(config.get("input")),
            _config_tensors(config.get("output")),
            _int(config.get("max_batch_size", 0)),
        )
    return Signature(
        inputs, outputs, tuple(map(_as_config, inputs)), tuple(map(_as_config, outputs)), 0
    )


def graph_signature(graph: Graph, models: Mapping[str, Signature]) -> Signature:
    """The graph's signature, from each service step's model's (by step label)."""
    return _node(graph, graph.root, models)


def metadata_document(name: str, signature: Signature) -> dict[str, Any]:
    """The graph's V2 model metadata."""
    return {
        "name": name,
        "versions": [],
        "platform": PLATFORM,
        "inputs": list(signature.inputs),
        "outputs": list(signature.outputs),
    }


def config_document(name: str, signature: Signature) -> dict[str, Any]:
    """The graph's configuration in Triton's form (what ``/config`` and ModelConfig answer)."""
    return {
        "name": name,
        "platform": PLATFORM,
        "max_batch_size": signature.max_batch_size,
        "input": list(signature.config_inputs),
        "output": list(signature.config_outputs),
    }


def _node(graph: Graph, node: Node, models: Mapping[str, Signature]) -> Signature:
    steps = [_step(graph, step, models) for step in node.steps]
    first = steps[0]
    batch = min(s.max_batch_size for s in steps)
    if node.router_type == "Sequence":
        last = steps[-1]
        return Signature(
            first.inputs, last.outputs, first.config_inputs, last.config_outputs, batch
        )
    if node.router_type == "Ensemble":
        keys = [step.key for step in node.steps]
        return Signature(
            first.inputs,
            _prefixed(keys, [s.outputs for s in steps]),
            first.config_inputs,
            _prefixed(keys, [s.config_outputs for s in steps]),
            batch,
        )
    return Signature(first.inputs, first.outputs, first.config_inputs, first.config_outputs, batch)


def _step(graph: Graph, step: Step, models: Mapping[str, Signature]) -> Signature:
    if step.node_name:
        return _node(graph, graph.nodes[step.node_name], models)
    return models[step.label]


def _prefixed(keys: Sequence[str], groups: Sequence[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    return tuple(
        {**tensor, "name": f"{key}.{tensor['name']}"}
        for key, group in zip(keys, groups, strict=True)
        for tensor in group
    )


def _tensors(document: Mapping[str, Any], key: str) -> tuple[Tensor, ...]:
    tensors = document.get(key)
    if not isinstance(tensors, list) or not all(
        isinstance(t, dict) and isinstance(t.get("name"), str) for t in tensors
    ):
        raise NotV2(f"its metadata has no list of named {key}")
    return tuple(
        {"name": t["name"], "datatype": t.get("datatype"), "shape": t.get("shape")} for t in tensors
    )


def _config_tensors(entries: Any) -> tuple[Tensor, ...]:
    if not isinstance(entries, list):
        return ()
    return tuple(
        {
            "name": e.get("name"),
            "data_type": e.get("data_type"),
            "dims": [_int(d) for d in e.get("dims") or []],
        }
        for e in entries
        if isinstance(e, dict)
    )


def _as_config(tensor: Tensor) -> Tensor:
    datatype = str(tensor.get("datatype") or "")
    shape = tensor.get("shape") if isinstance(tensor.get("shape"), list) else []
    return {
        "name": tensor["name"],
        "data_type": _TYPE + (_STRING if datatype == _BYTES else datatype),
        "dims": [_int(d) for d in shape or []],
    }


def _int(value: Any) -> int:
    """An integer from JSON or from protobuf's JSON form (64-bit integers are strings)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
