"""Pure checks of a request against a model's signature: inputs decoded, outputs selected."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelplane.model_server.backends.base import Signature, Tensors
from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.protocol.codec import decode_input
from modelplane.model_server.protocol.datatypes import to_dtype
from modelplane.model_server.protocol.types import MetadataTensor, RequestInput, RequestOutput


def prepare_inputs(signature: Signature, inputs: list[RequestInput]) -> Tensors:
    """Decode every request input and check names, datatypes and shapes against `signature`."""
    check_inputs(signature, inputs)
    return {inp.name: decode_input(inp) for inp in inputs}


def check_inputs(signature: Signature, inputs: list[RequestInput]) -> None:
    """Check names, datatypes and shapes against `signature` (the data is decoded elsewhere)."""
    seen: set[str] = set()
    expected = signature.inputs_by_name
    for inp in inputs:
        if inp.name in seen:
            raise InvalidInput(f"input {inp.name!r} appears more than once")
        seen.add(inp.name)
        spec = expected.get(inp.name)
        if signature.checked and spec is None:
            raise InvalidInput(
                f"input {inp.name!r} is not an input of this model (expects {_names(signature.inputs)})"
            )
        if spec is not None:
            _check_spec(inp, spec)
    if signature.checked:
        missing = [name for name in expected if name not in seen]
        if missing:
            raise InvalidInput(
                f"input {missing[0]!r} is missing (expects {_names(signature.inputs)})"
            )


def _check_spec(inp: RequestInput, spec: MetadataTensor) -> None:
    to_dtype(inp.datatype, f"input {inp.name!r} datatype")
    if inp.datatype != spec.datatype:
        raise InvalidInput(
            f"input {inp.name!r}: datatype {inp.datatype} does not match the model's {spec.datatype}"
        )
    if not shape_matches(inp.shape, spec.shape):
        raise InvalidInput(
            f"input {inp.name!r}: shape {inp.shape} does not match the model's {spec.shape}"
        )


def shape_matches(shape: list[int], pattern: list[int]) -> bool:
    """Whether `shape` fits `pattern`, where -1 in the pattern matches any size."""
    if len(shape) != len(pattern):
        return False
    return all(want < 0 or want == got for got, want in zip(shape, pattern, strict=True))


def select_outputs(signature: Signature, requested: list[RequestOutput] | None) -> list[str] | None:
    """Names of the outputs to return (None: all); unknown names are an InvalidInput."""
    if not requested:
        return None
    known = signature.output_names
    names: list[str] = []
    for out in requested:
        if out.name in names:
            raise InvalidInput(f"output {out.name!r} is asked for more than once")
        if signature.checked and out.name not in known:
            raise InvalidInput(
                f"output {out.name!r} is not an output of this model (has {_names(signature.outputs)})"
            )
        names.append(out.name)
    return names


def pick_outputs(
    outputs: Tensors, names: list[str] | None
) -> list[tuple[str, np.ndarray[Any, Any]]]:
    """The (name, array) pairs to return, in the order asked for."""
    if names is None:
        return list(outputs.items())
    picked = []
    for name in names:
        if name not in outputs:
            raise InvalidInput(
                f"output {name!r} was not produced by the model (has {', '.join(outputs)})"
            )
        picked.append((name, outputs[name]))
    return picked


def _names(tensors: list[MetadataTensor]) -> str:
    return ", ".join(t.name for t in tensors) or "nothing"
