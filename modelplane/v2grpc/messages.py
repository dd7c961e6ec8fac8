"""Facts of the V2 gRPC messages both sides need: the typed-contents field of each datatype,
and the InferParameter map as plain values (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def params_to_dict(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """A protobuf parameter map as plain values (None when empty)."""
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        choice = value.WhichOneof("parameter_choice")
        out[key] = getattr(value, choice) if choice else None
    return out


def fill_params(target: Any, params: Mapping[str, Any] | None) -> None:
    """Copy plain values into a protobuf InferParameter map."""
    for key, value in (params or {}).items():
        slot = target[key]
        if isinstance(value, bool):
            slot.bool_param = value
        elif isinstance(value, int):
            slot.int64_param = value
        elif isinstance(value, float):
            slot.double_param = value
        else:
            slot.string_param = str(value)
