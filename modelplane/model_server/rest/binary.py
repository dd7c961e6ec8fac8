"""The binary tensor data extension: split a request body, attach raw inputs, encode a response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.protocol.codec import to_json_data, to_raw
from modelplane.model_server.protocol.types import InferenceRequest, InferenceResponse

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
M = TypeVar("M", bound=BaseModel)


def parse_json(model: type[M], body: bytes) -> M:
    """Validate a JSON document as `model`; InvalidInput naming the failing field."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """The first pydantic error as `field.path: message` (or `malformed JSON: ...`)."""
    err = exc.errors(include_url=False)[0]
    if err["type"] == "json_invalid":
        return f"malformed JSON: {err['msg']}"
    loc = ".".join(str(part) for part in err["loc"]) or "body"
    return f"{loc}: {err['msg']}"


def parse_infer_body(body: bytes, header_length: str | None) -> InferenceRequest:
    """An InferenceRequest from a JSON body, or a JSON header followed by binary tensors."""
    if header_length is None:
        request = parse_json(InferenceRequest, body)
        for inp in request.inputs:
            if inp.parameters and "binary_data_size" in inp.parameters:
                raise InvalidInput(
                    f"input {inp.name!r}: parameters.binary_data_size needs a binary part, but "
                    "the request has no Inference-Header-Content-Length header"
                )
        return request
    try:
        length = int(header_length)
    except ValueError:
        raise InvalidInput(
            f"Inference-Header-Content-Length: {header_length!r} is not an integer"
        ) from None
    if length < 0 or length > len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length: {length} does not fit a body of {len(body)} bytes"
        )
    view = memoryview(body)
    request = parse_json(InferenceRequest, bytes(view[:length]))
    attach_binary(request, view[length:])
    return request


def attach_binary(request: InferenceRequest, tail: memoryview) -> None:
    """Hand each input with `binary_data_size` its slice of the binary tail, in input order."""
    offset = 0
    for inp in request.inputs:
        if not inp.parameters or "binary_data_size" not in inp.parameters:
            continue
        size = inp.parameters["binary_data_size"]
        field = f"input {inp.name!r}: parameters.binary_data_size"
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(f"{field} must be a non-negative integer, not {size!r}")
        if inp.data is not None:
            raise InvalidInput(f"input {inp.name!r}: has both 'data' and binary_data_size")
        if offset + size > len(tail):
            raise InvalidInput(
                f"{field} is {size} but only {len(tail) - offset} bytes of binary data remain"
            )
        inp.with_raw(tail[offset : offset + size])
        offset += size
    if offset != len(tail):
        raise InvalidInput(
            f"{len(tail) - offset} bytes of binary data are not claimed by any input's binary_data_size"
        )


@dataclass(frozen=True, slots=True)
class OutputForms:
    """Which outputs the answer carries as binary data: `binary_data_output` for every output,
    an output's own `binary_data` for it."""

    default: bool = False
    per_output: dict[str, bool] = field(default_factory=dict)

    def binary(self, name: str) -> bool:
        """Whether output `name` travels as binary data."""
        return self.per_output.get(name, self.default)


def output_forms(request: InferenceRequest) -> OutputForms:
    """The forms a request asks its outputs in, checked before the model runs: each switch is
    true or false (InvalidInput otherwise: a "false" string is not false)."""
    parameters = request.parameters or {}
    default = _switch(parameters, "binary_data_output", "parameters.binary_data_output")
    per_output: dict[str, bool] = {}
    for out in request.outputs or ():
        if out.parameters and "binary_data" in out.parameters:
            field_name = f"output {out.name!r}: parameters.binary_data"
            per_output[out.name] = _switch(out.parameters, "binary_data", field_name)
    return OutputForms(default, per_output) if default or per_output else _JSON_FORMS


def _switch(parameters: dict[str, Any], key: str, field_name: str) -> bool:
    value = parameters.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{field_name} must be true or false, not {value!r}")
    return value


_JSON_FORMS = OutputForms()


def encode_infer_response(
    response: InferenceResponse, forms: OutputForms
) -> tuple[bytes, int | None]:
    """The response body and, when outputs travel as binary, the JSON header's length."""
    chunks: list[bytes | memoryview] = []
    outputs: list[dict[str, Any]] = []
    for result in response.outputs:
        array = result.array
        assert array is not None
        entry: dict[str, Any] = {
            "name": result.name,
            "datatype": result.datatype,
            "shape": result.shape,
        }
        parameters = dict(result.parameters or {})
        if forms.binary(result.name):
            raw = to_raw(array)
            parameters["binary_data_size"] = len(raw)
            chunks.append(raw)
        else:
            entry["data"] = to_json_data(array, result.name)
        if parameters:
            entry["parameters"] = parameters
        outputs.append(entry)
    doc: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
    }
    if response.id is not None:
        doc["id"] = response.id
    if response.parameters:
        doc["parameters"] = response.parameters
    doc["outputs"] = outputs
    header = orjson.dumps(doc, option=_JSON_OPTIONS)
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)
