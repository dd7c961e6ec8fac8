"""V2-aware chaining, pure: a previous V2 response's outputs become the next request's inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelplane.router.graph import Step
from modelplane.router.payload import Payload

_TENSOR_FIELDS = ("name", "datatype", "shape", "data")


class ChainError(ValueError):
    """The previous response cannot feed the next step (e.g. a mapped output is missing)."""


def is_v2_response(document: Any) -> bool:
    """A V2 inference response: an object whose ``outputs`` is a list of named tensors."""
    if not isinstance(document, dict):
        return False
    outputs = document.get("outputs")
    return (
        isinstance(outputs, list)
        and bool(outputs)
        and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    )


def v2_outputs(document: Any) -> list[dict[str, Any]] | None:
    """The output tensors of a V2 response, or of an Ensemble map of V2 responses.

    An Ensemble map's outputs are named ``<step>.<output>``; anything else gives None.
    """
    if is_v2_response(document):
        outputs: list[dict[str, Any]] = document["outputs"]
        return outputs
    if isinstance(document, dict) and document and all(map(is_v2_response, document.values())):
        return [
            {**out, "name": f"{key}.{out['name']}"}
            for key, response in document.items()
            for out in response["outputs"]
        ]
    return None


def outputs_to_request(
    outputs: list[dict[str, Any]], mapping: Mapping[str, str] | None, request_id: Any = None
) -> dict[str, Any]:
    """A V2 request whose inputs are the given outputs, renamed (and filtered) by the mapping."""
    inputs = []
    for out in outputs:
        name = out["name"]
        if mapping is not None:
            if name not in mapping:
                continue
            name = mapping[name]
        tensor = {f: out[f] for f in _TENSOR_FIELDS if f in out}
        tensor["name"] = name
        inputs.append(tensor)
    if mapping is not None:
        missing = sorted(set(mapping) - {o["name"] for o in outputs})
        if missing:
            raise ChainError(f"previous response has no output named {', '.join(missing)}")
    request: dict[str, Any] = {"inputs": inputs}
    if request_id is not None:
        request["id"] = request_id
    return request


def next_request(step: Step, original: Payload, previous: Payload | None) -> Payload:
    """The body a step receives: the node's input, or the previous response (V2 outputs mapped).

    A previous response that is not V2 is passed through byte for byte.
    """
    if step.data != "$response" or previous is None:
        return original
    document = previous.json_or_none()
    outputs = v2_outputs(document)
    if outputs is None:
        if step.mapping is not None:
            raise ChainError("mapping is set but the previous response is not a V2 response")
        return previous
    return Payload.of(outputs_to_request(outputs, step.mapping, document.get("id")))


def merge_ensemble(document: Any, model_name: str) -> dict[str, Any] | None:
    """An Ensemble map of V2 responses as one V2 response named for the graph, else None."""
    if is_v2_response(document) or not isinstance(document, dict):
        return None
    outputs = v2_outputs(document)
    if outputs is None:
        return None
    return {"model_name": model_name, "outputs": outputs}
