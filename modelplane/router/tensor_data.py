"""Tensor data between raw little-endian bytes and JSON values, pure.

Raw to JSON writes floats as the model server writes them (a float32's own shortest digits;
`NaN`/`Infinity` as tokens), BF16 as float32 numbers, and refuses BYTES that are not UTF-8
(ChainError: JSON cannot carry them). JSON to raw refuses what is not the datatype it claims
(MalformedV2: a BYTES element that is not a string, data that is not numbers, no data).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from modelplane.edge.v2data import leaves, typed_array
from modelplane.router import jsonio
from modelplane.router.bfloat16 import bf16_to_float32, float32_to_bf16
from modelplane.router.errors import ChainError, MalformedV2

# Little-endian numpy types of the fixed-size V2 datatypes (BYTES is length-prefixed).
DTYPES: dict[str, str] = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def raw_to_data(datatype: str, raw: bytes, name: str) -> list[Any]:
    """Raw little-endian tensor bytes as a flat list (BYTES elements as UTF-8 text)."""
    if datatype == "BYTES":
        out: list[Any] = []
        offset = 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise ChainError(f"tensor {name!r}: BYTES data ends inside an element's length")
            (size,) = struct.unpack_from("<I", raw, offset)
            if offset + 4 + size > len(raw):
                raise ChainError(
                    f"tensor {name!r}: a BYTES element of {size} bytes runs past the data's end"
                )
            chunk = raw[offset + 4 : offset + 4 + size]
            try:
                out.append(chunk.decode())
            except UnicodeDecodeError:
                raise ChainError(
                    f"tensor {name!r} holds bytes that are not UTF-8, so JSON cannot carry "
                    "them: ask for it as binary data (binary_data_output) or over gRPC"
                ) from None
            offset += 4 + size
        return out
    dtype = "<u2" if datatype == "BF16" else DTYPES.get(datatype)
    if dtype is None:
        raise ChainError(f"tensor {name!r}: {datatype} cannot be turned into JSON data")
    if len(raw) % np.dtype(dtype).itemsize:
        raise ChainError(
            f"tensor {name!r}: {len(raw)} bytes are not a whole number of {datatype} values"
        )
    # BF16 in JSON as float32 numbers, as the model server writes it
    array = bf16_to_float32(raw) if datatype == "BF16" else np.frombuffer(raw, dtype=dtype)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        # written back as NaN, Infinity tokens
        return [jsonio.non_finite(x) for x in array.tolist()]
    if array.dtype.kind == "f" and array.dtype.itemsize < 8:
        # the digits the model server writes (a float32's shortest), not a double's
        return jsonio.narrow_floats(array)
    data: list[Any] = array.tolist()
    return data


def data_to_raw(datatype: str, data: Any, name: str) -> bytes:
    """JSON data (nested or flat) as raw little-endian bytes."""
    if data is None:
        raise MalformedV2(f"tensor {name!r} has no data")
    if datatype == "BYTES":
        parts = []
        for item in leaves(data):
            if not isinstance(item, str):  # bytes(5) would be five zero bytes
                raise MalformedV2(f"tensor {name!r}: BYTES data holds {item!r}, not a string")
            chunk = item.encode()
            parts.append(struct.pack("<I", len(chunk)) + chunk)
        return b"".join(parts)
    dtype = "<f4" if datatype == "BF16" else DTYPES.get(datatype)
    if dtype is None:
        raise MalformedV2(f"tensor {name!r}: {datatype!r} is not a V2 datatype")
    try:
        array = typed_array(data, np.dtype(dtype))
    except (TypeError, ValueError, OverflowError) as exc:
        raise MalformedV2(f"tensor {name!r}: data is not {datatype}: {exc}") from exc
    return float32_to_bf16(array) if datatype == "BF16" else array.tobytes()
