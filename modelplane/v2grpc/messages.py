"""Facts of the V2 gRPC messages both sides need: the typed-contents field of each datatype,
the InferParameter map as plain values, and a message as the JSON document V2's REST API
writes (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor

# The InferTensorContents field that carries each datatype's typed values (FP16 and BF16
# travel only as raw contents).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


class NotAParameter(ValueError):
    """A value an InferParameter cannot carry, or one that carries none (the message names the
    key)."""


def params_to_dict(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """A protobuf parameter map as plain values (None when empty); NotAParameter for an
    entry with no value set (it had been read as null, then echoed as the text "None")."""
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        choice = value.WhichOneof("parameter_choice")
        if choice is None:
            raise NotAParameter(
                f"parameter {key!r} has no value: set one of bool_param, int64_param, "
                "uint64_param, double_param or string_param"
            )
        out[key] = getattr(value, choice)
    return out


def fill_params(target: Any, params: Mapping[str, Any] | None) -> None:
    """Copy plain values into a protobuf InferParameter map: true/false, integers within 64
    bits (past int64, up to uint64, as uint64_param), numbers and strings. NotAParameter
    for anything else (null, a list, an object, a larger integer): it would have to be
    rewritten to travel."""
    for key, value in (params or {}).items():
        slot = target[key]
        if isinstance(value, bool):
            slot.bool_param = value
        elif isinstance(value, Integral) and -(2**63) <= int(value) < 2**64:
            if int(value) < 2**63:
                slot.int64_param = int(value)
            else:
                slot.uint64_param = int(value)
        elif isinstance(value, Real) and not isinstance(value, Integral):
            slot.double_param = float(value)
        elif isinstance(value, str):
            slot.string_param = value
        else:
            del target[key]
            spelled = json.dumps(value, default=repr)
            raise NotAParameter(
                f"parameter {key!r} is {spelled}: gRPC carries true or false, integers "
                "within 64 bits, numbers and strings"
            )


_INT64_TYPES = frozenset({
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
})  # fmt: skip


def rest_document(message: Any) -> dict[str, Any]:
    """A message (ModelMetadataResponse, ModelConfig...) as V2's REST API writes it: field
    names as in the proto, 64-bit integers as numbers (protobuf's JSON mapping writes them as
    strings, so a shape would read ``["-1", "4"]``)."""
    document: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    _numbers(message, document)
    return document


def _numbers(message: Any, document: dict[str, Any]) -> None:
    for field in message.DESCRIPTOR.fields:
        if field.name not in document:
            continue
        value, given = document[field.name], getattr(message, field.name)
        if field.type in _INT64_TYPES:
            document[field.name] = [int(v) for v in value] if field.is_repeated else int(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.GetOptions().map_entry:
                _map_numbers(field, given, value)
            elif field.is_repeated:
                for item, entry in zip(given, value, strict=True):
                    _numbers(item, entry)
            else:
                _numbers(given, value)


def _map_numbers(field: Any, given: Any, value: dict[str, Any]) -> None:
    """A map field's entries (V2's maps are keyed by strings)."""
    kind = field.message_type.fields_by_name["value"]
    for key in value:
        if kind.type in _INT64_TYPES:
            value[key] = int(value[key])
        elif kind.type == FieldDescriptor.TYPE_MESSAGE:
            _numbers(given[key], value[key])
