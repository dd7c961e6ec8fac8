"""Whether a V2 document the router must read is well formed, pure: the fields it converts or
looks into have the types the protocol gives them, or MalformedV2 names the first that does
not (a 400: it is the sender's document).

The router forwards a REST body untouched where it can, and the model server then checks
all of it; where it converts one (to a gRPC message, to raw bytes, into a chained request)
or reads its requested outputs, it checks what it reads, so that nothing malformed is
dropped on the way (an `outputs` that is not a list) or written back in another form (an
`id` that is not a string).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelplane.router.errors import MalformedV2


def check_document(document: Mapping[str, Any], tensors_key: str) -> None:
    """The document's own fields and each of its tensors' (under `tensors_key`)."""
    for key in ("id", "model_name", "model_version"):
        given = document.get(key)
        if given is not None and not isinstance(given, str):
            raise MalformedV2(f"{key} must be a string, not {given!r}")
    parameters = document.get("parameters")
    _object(parameters, "parameters")
    _switch(parameters, "binary_data_output", "parameters")
    if tensors_key == "inputs":
        _requested(document.get("outputs"))
    for index, tensor in enumerate(document[tensors_key]):
        _tensor(tensor, f"{tensors_key}.{index}")


def is_request(document: Any) -> bool:
    """Whether a client's document is a V2 inference request (its `inputs` a list); an
    `inputs` of another type is MalformedV2 (it would be read as a response otherwise)."""
    if not isinstance(document, dict) or "inputs" not in document:
        return False
    inputs = document["inputs"]
    if not isinstance(inputs, list):
        raise MalformedV2(f"inputs must be a list of tensors, not {inputs!r}")
    return True


def _requested(outputs: Any) -> None:
    if outputs is None:
        return
    if not isinstance(outputs, list):
        raise MalformedV2(f"outputs must be a list of objects, not {outputs!r}")
    for index, output in enumerate(outputs):
        where = f"outputs.{index}"
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise MalformedV2(f"{where} must be an object with a string name, not {output!r}")
        _object(output.get("parameters"), f"{where}.parameters")
        _switch(output.get("parameters"), "binary_data", f"{where}.parameters")


def _tensor(tensor: Any, where: str) -> None:
    if not isinstance(tensor, dict):
        raise MalformedV2(f"{where} must be an object, not {tensor!r}")
    name = tensor.get("name")
    if not isinstance(name, str):
        raise MalformedV2(f"{where}.name must be a string, not {name!r}")
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str):
        raise MalformedV2(f"{where} ({name!r}).datatype must be a string, not {datatype!r}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in shape
    ):
        raise MalformedV2(f"{where} ({name!r}).shape must be a list of integers, not {shape!r}")
    _object(tensor.get("parameters"), f"{where} ({name!r}).parameters")


def _object(value: Any, where: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise MalformedV2(f"{where} must be an object, not {value!r}")


def _switch(parameters: Any, key: str, where: str) -> None:
    """A true-or-false parameter (a "false" string is not false)."""
    if parameters and key in parameters and not isinstance(parameters[key], bool):
        raise MalformedV2(f"{where}.{key} must be true or false, not {parameters[key]!r}")
