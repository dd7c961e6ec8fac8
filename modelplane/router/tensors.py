"""V2 tensors in the router's three wire forms, converted without a JSON round trip where possible.

A V2 request or response reaches the router as JSON, as a REST body in the binary tensor
extension (a JSON header, then raw bytes), or as a gRPC message (``ModelInferRequest`` /
``ModelInferResponse``). `V2` is the one neutral shape between them: its tensors keep raw
bytes as raw bytes (never decoded to Python lists) and JSON data as JSON data. Only when a
form needs values (JSON out, a condition) are raw bytes decoded, and only when a form needs
bytes (gRPC out) is JSON data encoded. Pure: no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from modelplane.router import jsonio
from modelplane.router.errors import ChainError, MalformedV2, NotV2, RouterError
from modelplane.router.forms import ALL_BINARY, OutputForms
from modelplane.router.tensor_data import data_to_raw, raw_to_data
from modelplane.router.wellformed import check_document
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.messages import CONTENTS_FIELD, NotAParameter, fill_params, params_to_dict

Kind = Literal["request", "response"]
BINARY_SIZE = "binary_data_size"
BINARY_OUTPUT = "binary_data_output"
BINARY_DATA = "binary_data"  # a requested output's own switch


@dataclass(slots=True)
class Tensor:
    """One V2 tensor: raw little-endian bytes or JSON data, never both."""

    name: str
    datatype: str
    shape: list[int]
    parameters: dict[str, Any] | None = None
    raw: bytes | None = None
    data: Any = None

    def raw_bytes(self) -> bytes:
        """The tensor as raw bytes (encoding JSON data when that is what it holds)."""
        if self.raw is not None:
            return self.raw
        return data_to_raw(self.datatype, self.data, self.name)

    def json_data(self) -> Any:
        """The tensor's data as a flat JSON list (decoding raw bytes when that is what it holds)."""
        if self.raw is None:
            return self.data
        return raw_to_data(self.datatype, self.raw, self.name)


@dataclass(slots=True)
class V2:
    """A V2 request (tensors are inputs) or response (tensors are outputs), form-neutral."""

    kind: Kind
    tensors: list[Tensor]
    id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[dict[str, Any]] | None = None  # a request's requested outputs
    extra: dict[str, Any] = field(default_factory=dict)  # other JSON keys, kept as they are


def is_v2_response(document: Any) -> bool:
    """A V2 inference response as JSON: an object whose ``outputs`` is a list of named tensors."""
    if not isinstance(document, dict):
        return False
    outputs = document.get("outputs")
    return (
        isinstance(outputs, list)
        and bool(outputs)
        and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    )


def check_answer(document: Mapping[str, Any]) -> None:
    """A V2 response the router reads (to rename, chain or merge it) has the protocol's
    types, or ChainError names the first field that does not: a step's answer, not the
    client's mistake."""
    try:
        check_document(document, "outputs")
    except MalformedV2 as exc:
        raise ChainError(f"a step's answer is not a well-formed V2 response: {exc}") from exc


# --- JSON documents ----------------------------------------------------------------------


def from_document(document: Mapping[str, Any], tail: bytes | None = None) -> V2 | None:
    """A V2 request/response from its JSON (header) document; None when it is neither.

    With ``tail`` (the binary extension's bytes after the header), tensors that declare
    ``binary_data_size`` take their slice of it, in order.
    """
    kind: Kind = "request" if isinstance(document.get("inputs"), list) else "response"
    key = "inputs" if kind == "request" else "outputs"
    raw_tensors = document.get(key)
    if not isinstance(raw_tensors, list) or not raw_tensors:
        return None
    if kind == "request":  # a client's, read here: nothing malformed is dropped or rewritten
        check_document(document, key)
    elif is_v2_response(document):  # an answer, to chain or merge: named, never a crash
        check_answer(document)
    tensors = []
    offset = 0
    for index, t in enumerate(raw_tensors):
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            return None
        params = t.get("parameters")
        params = dict(params) if isinstance(params, dict) else None
        raw = None
        if tail is not None and params and BINARY_SIZE in params:
            size = params.pop(BINARY_SIZE)
            if type(size) is not int or size < 0 or offset + size > len(tail):
                where = f"{key}.{index} ({t['name']!r}).parameters.{BINARY_SIZE}"
                left = len(tail) - offset
                why = (
                    f"{where} must be a whole number of the {left} binary bytes left, not {size!r}"
                )
                # a client's request is its own mistake (400); an answer cannot be chained
                raise MalformedV2(why) if kind == "request" else ChainError(why)
            raw = tail[offset : offset + size]
            offset += size
        tensors.append(
            Tensor(
                t["name"],
                str(t.get("datatype", "")),
                list(t.get("shape") or []),
                params or None,
                raw,
                None if raw is not None else t.get("data"),
            )
        )
    known = {key, "id", "model_name", "model_version", "parameters", "outputs"}
    params = document.get("parameters")
    outputs = document.get("outputs") if kind == "request" else None
    return V2(
        kind,
        tensors,
        id=document.get("id"),
        model_name=document.get("model_name"),
        model_version=document.get("model_version"),
        parameters=dict(params) if isinstance(params, dict) else None,
        outputs=list(outputs) if isinstance(outputs, list) else None,
        extra={k: v for k, v in document.items() if k not in known},
    )


def to_document(v2: V2) -> dict[str, Any]:
    """A V2 object as a JSON document with every tensor's data in JSON. Raw bytes that cannot
    be read as their datatype are a ChainError in an answer, MalformedV2 in a request (a
    client's, read for a decision)."""
    document = _head(v2)
    try:
        tensors = [_tensor_doc(t, t.json_data(), t.parameters) for t in v2.tensors]
    except ChainError as exc:
        if v2.kind == "request":
            raise MalformedV2(str(exc)) from exc
        raise
    document["inputs" if v2.kind == "request" else "outputs"] = tensors
    return document


def to_binary(v2: V2, forms: OutputForms = ALL_BINARY) -> tuple[bytes, int | None]:
    """A V2 object in the binary extension: (body, header length); raw tensors stay raw,
    except those `forms` asks for as JSON (decoded into it).

    A request also asks for binary outputs, so a chain that started binary stays binary.
    """
    document = _head(v2)
    if v2.kind == "request":
        document["parameters"] = {**(v2.parameters or {}), BINARY_OUTPUT: True}
    entries, chunks = [], []
    for t in v2.tensors:
        if t.raw is None:
            entries.append(_tensor_doc(t, t.data, t.parameters))
        elif not forms.binary(t.name):
            entries.append(_tensor_doc(t, t.json_data(), t.parameters))
        else:
            entries.append(_tensor_doc(t, None, {**(t.parameters or {}), BINARY_SIZE: len(t.raw)}))
            chunks.append(t.raw)
    document["inputs" if v2.kind == "request" else "outputs"] = entries
    header = jsonio.dumps(document)
    if not chunks:
        return header, None
    return b"".join([header, *chunks]), len(header)


def _head(v2: V2) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if v2.model_name is not None:
        document["model_name"] = v2.model_name
    if v2.model_version is not None:
        document["model_version"] = v2.model_version
    if v2.id is not None:
        document["id"] = v2.id
    if v2.parameters:
        document["parameters"] = v2.parameters
    if v2.outputs is not None:
        document["outputs"] = v2.outputs
    document.update(v2.extra)
    return document


def _tensor_doc(t: Tensor, data: Any, parameters: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": t.name, "datatype": t.datatype, "shape": t.shape}
    if parameters:
        entry["parameters"] = parameters
    if data is not None:
        entry["data"] = data
    return entry


# --- gRPC messages -----------------------------------------------------------------------


def is_request_message(msg: Any) -> bool:
    """Whether a gRPC message is a ModelInferRequest."""
    return isinstance(msg, pb.ModelInferRequest)


def is_response_message(msg: Any) -> bool:
    """Whether a gRPC message is a ModelInferResponse."""
    return isinstance(msg, pb.ModelInferResponse)


def from_message(msg: Any) -> V2:
    """A ModelInferRequest or ModelInferResponse as a V2 object (raw contents stay raw)."""
    request = is_request_message(msg)
    bad = MalformedV2 if request else ChainError  # a client's message, or an upstream's
    try:
        return _read_message(msg, request, bad)
    except NotAParameter as exc:
        raise bad(str(exc)) from exc


def _read_message(msg: Any, request: bool, bad: type[RouterError]) -> V2:
    kind: Kind = "request" if request else "response"
    described = msg.inputs if request else msg.outputs
    raw = msg.raw_input_contents if request else msg.raw_output_contents
    if raw and len(raw) != len(described):
        raise bad(f"{len(raw)} raw contents for {len(described)} tensors")
    tensors = []
    for i, t in enumerate(described):
        tensor = Tensor(t.name, t.datatype, list(t.shape), params_to_dict(t.parameters))
        if raw:
            if t.HasField("contents"):
                raise bad(f"tensor {t.name!r} has typed contents and raw contents: send one")
            tensor.raw = raw[i]
        elif t.HasField("contents"):
            tensor.raw, tensor.data = _typed_contents(t, bad)
        else:
            tensor.raw = b""
        tensors.append(tensor)
    outputs = None
    if request and msg.outputs:
        outputs = [_requested(o) for o in msg.outputs]
    return V2(
        kind,
        tensors,
        id=msg.id or None,
        model_name=msg.model_name or None,
        model_version=msg.model_version or None,
        parameters=params_to_dict(msg.parameters),
        outputs=outputs,
    )


def _requested(o: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": o.name}
    params = params_to_dict(o.parameters)
    if params:
        entry["parameters"] = params
    return entry


def _typed_contents(t: Any, bad: type[Exception]) -> tuple[bytes | None, list[Any] | None]:
    """A tensor's typed contents: BYTES as raw bytes (kept exact, UTF-8 or not), others as
    JSON data."""
    name = CONTENTS_FIELD.get(t.datatype)
    if name is None:
        raise bad(f"tensor {t.name!r}: {t.datatype!r} has no typed contents field")
    values = list(getattr(t.contents, name))
    if t.datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v)) + v for v in values), None
    return None, values


def to_message(v2: V2, model_name: str | None = None) -> Any:
    """A V2 object as a gRPC message; every tensor travels in raw contents."""
    if v2.kind == "request":
        msg = pb.ModelInferRequest(
            model_name=model_name or v2.model_name or "",
            model_version=v2.model_version or "",
            id=_text(v2.id),
        )
        described, raw = msg.inputs, msg.raw_input_contents
        for o in v2.outputs or ():
            if isinstance(o, dict) and isinstance(o.get("name"), str):
                requested = msg.outputs.add(name=o["name"])
                where = f"outputs ({o['name']!r})"
                _fill(requested.parameters, _without_binary(o.get("parameters")), where, v2)
    else:
        msg = pb.ModelInferResponse(
            model_name=model_name or v2.model_name or "",
            model_version=v2.model_version or "",
            id=_text(v2.id),
        )
        described, raw = msg.outputs, msg.raw_output_contents
    _fill(
        msg.parameters,
        _without_binary(v2.parameters),
        "the request" if v2.kind == "request" else "the answer",
        v2,
    )
    for t in v2.tensors:
        entry = described.add(name=t.name, datatype=t.datatype, shape=t.shape)
        _fill(entry.parameters, t.parameters, f"tensor {t.name!r}", v2)
        raw.append(t.raw_bytes())
    return msg


def _fill(target: Any, params: dict[str, Any] | None, where: str, v2: V2) -> None:
    """`fill_params`, a value gRPC cannot carry named: the client's MalformedV2 in a request,
    NotV2 in an answer (which REST can carry)."""
    try:
        fill_params(target, params)
    except NotAParameter as exc:
        if v2.kind == "request":
            raise MalformedV2(f"{where}: {exc}") from exc
        raise NotV2(f"{where}: {exc}") from exc


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _without_binary(params: Any) -> dict[str, Any] | None:
    if not isinstance(params, dict):
        return None
    return {k: v for k, v in params.items() if k not in (BINARY_OUTPUT, BINARY_DATA)}


# --- chaining ----------------------------------------------------------------------------


def response_to_request(v2: V2, mapping: Mapping[str, str] | None) -> V2:
    """The next step's request from a response: outputs become inputs, renamed by the mapping.

    Output parameters describe the answer, not the next request, and are left behind (as
    the JSON chaining does).
    """
    tensors = select(v2.tensors, mapping, "previous response has no output")
    return V2("request", [replace(t, parameters=None) for t in tensors], id=v2.id)


def rename_request(v2: V2, mapping: Mapping[str, str]) -> V2:
    """A request with its inputs renamed (and filtered) by the mapping."""
    return replace(v2, tensors=select(v2.tensors, mapping, "request has no input"))


def select(
    tensors: list[Tensor], mapping: Mapping[str, str] | None, missing_message: str
) -> list[Tensor]:
    """Tensors renamed and filtered by a mapping (all of them without one)."""
    if mapping is None:
        return list(tensors)
    names = {t.name for t in tensors}
    missing = sorted(set(mapping) - names)
    if missing:
        raise ChainError(f"{missing_message} named {', '.join(missing)}")
    return [replace(t, name=mapping[t.name]) for t in tensors if t.name in mapping]
