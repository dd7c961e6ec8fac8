"""Tensor conversions in one place: V2 inputs to numpy, numpy to JSON data or raw bytes."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import orjson

from modelplane.edge.v2data import leaves, typed_array
from modelplane.model_server.errors import InferenceFailed, InvalidInput
from modelplane.model_server.protocol.datatypes import to_dtype
from modelplane.model_server.protocol.types import RequestInput

_LEN = struct.Struct("<I")
# numpy dtypes orjson serializes natively (OPT_SERIALIZE_NUMPY).
_ORJSON_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64, np.float16, np.float32, np.float64,
    )
)  # fmt: skip


def element_count(shape: list[int], field: str) -> int:
    """Number of elements of `shape`; InvalidInput naming `field` for a negative dimension."""
    for dim in shape:
        if dim < 0:
            raise InvalidInput(f"{field}: shape {shape} has a negative dimension")
    return math.prod(shape)


def decode_input(inp: RequestInput) -> np.ndarray[Any, Any]:
    """The numpy array of one request input, checked against its datatype and shape."""
    field = f"input {inp.name!r}"
    dtype = to_dtype(inp.datatype, f"{field} datatype")
    count = element_count(inp.shape, f"{field} shape")
    raw = inp.raw
    if raw is not None:
        if dtype.kind == "O":
            return decode_bytes(raw, count, field).reshape(inp.shape)
        expected = count * dtype.itemsize
        if len(raw) != expected:
            raise InvalidInput(
                f"{field}: binary data has {len(raw)} bytes but shape {inp.shape} "
                f"of {inp.datatype} needs {expected}"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(inp.shape)
    data = inp.data
    if data is None:
        raise InvalidInput(f"{field}: no 'data' and no binary_data_size")
    if dtype.kind == "O":
        array = _bytes_from_json(data, field)
    else:
        try:
            array = typed_array(data, dtype)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInput(f"{field}: data is not {inp.datatype}: {exc}") from None
    if array.size != count:
        raise InvalidInput(
            f"{field}: data has {array.size} elements but shape {inp.shape} needs {count}"
        )
    return array.reshape(inp.shape)


def _bytes_from_json(data: Any, field: str) -> np.ndarray[Any, Any]:
    flat = list(leaves(data))
    out = np.empty(len(flat), dtype=np.object_)
    for i, item in enumerate(flat):
        if isinstance(item, str):
            out[i] = item.encode()
        elif isinstance(item, bytes):
            out[i] = item
        else:
            raise InvalidInput(f"{field}: BYTES data element {i} is {type(item).__name__}, not str")
    return out


def decode_bytes(raw: bytes | memoryview, count: int, field: str) -> np.ndarray[Any, Any]:
    """Length-prefixed (4-byte little-endian) BYTES elements to a flat object array."""
    view = memoryview(raw)
    offset, size = 0, len(view)
    if count * 4 > size:  # every element carries a 4-byte length: refuse before allocating
        raise InvalidInput(f"{field}: {size} bytes cannot hold {count} BYTES elements")
    out = np.empty(count, dtype=np.object_)
    for i in range(count):
        if offset + 4 > size:
            raise InvalidInput(f"{field}: BYTES data ends before element {i} of {count}")
        (length,) = _LEN.unpack_from(view, offset)
        offset += 4
        if offset + length > size:
            raise InvalidInput(f"{field}: BYTES element {i} of length {length} runs past the data")
        out[i] = bytes(view[offset : offset + length])
        offset += length
    if offset != size:
        raise InvalidInput(f"{field}: {size - offset} bytes left after {count} BYTES elements")
    return out


def encode_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """A BYTES tensor as length-prefixed elements, row-major."""
    parts: list[bytes] = []
    for item in array.reshape(-1):
        value = item if isinstance(item, bytes) else str(item).encode()
        parts.append(_LEN.pack(len(value)))
        parts.append(value)
    return b"".join(parts)


def to_raw(array: np.ndarray[Any, Any]) -> bytes | memoryview:
    """A tensor's bytes for the binary extension or gRPC raw contents (no copy when contiguous)."""
    if array.dtype.kind in "OSU":
        return encode_bytes(array)
    flat: Any = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    return memoryview(flat)


def to_json_data(array: np.ndarray[Any, Any], name: str) -> Any:
    """A tensor as flat JSON data: a numpy array orjson writes natively, or a list of str.

    Non-finite floats are written as the tokens `NaN`, `Infinity` and `-Infinity` (as Triton
    and Python's json module write and read them), never as `null`: orjson would write null,
    so such a tensor goes out as a pre-rendered fragment instead.
    """
    if array.dtype in _ORJSON_DTYPES:
        flat = np.ascontiguousarray(array).reshape(-1)
        if flat.dtype.kind == "f" and not np.isfinite(flat).all():
            return _non_finite_fragment(flat)
        return flat
    if array.dtype.kind in "OSU":
        out: list[str] = []
        for item in array.reshape(-1):
            if isinstance(item, bytes):
                try:
                    out.append(item.decode())
                except UnicodeDecodeError:
                    raise InferenceFailed(
                        f"output {name!r} holds bytes that are not UTF-8; request it as binary data"
                    ) from None
            else:
                out.append(str(item))
        return out
    # BF16 and anything else numeric: as float32 numbers
    as_f32 = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
    if not np.isfinite(as_f32).all():
        return _non_finite_fragment(as_f32)
    return as_f32


def _non_finite_fragment(flat: np.ndarray[Any, Any]) -> orjson.Fragment:
    """A float tensor with NaN or infinities as a JSON fragment using the tokens above."""
    return orjson.Fragment(
        json.dumps(flat.tolist(), allow_nan=True, separators=(",", ":")).encode()
    )
