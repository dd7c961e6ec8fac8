"""V2 datatype names and their numpy dtypes (BF16 via ml_dtypes, BYTES as object arrays)."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from modelplane.model_server.errors import InvalidInput

DATATYPES: dict[str, np.dtype[np.generic]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "BYTES": np.dtype(np.object_),
}

_BY_DTYPE: dict[np.dtype[np.generic], str] = {dt: name for name, dt in DATATYPES.items()}


def to_dtype(datatype: str, field: str = "datatype") -> np.dtype[np.generic]:
    """The numpy dtype of a V2 datatype name; InvalidInput naming `field` when unknown."""
    try:
        return DATATYPES[datatype]
    except KeyError:
        known = ", ".join(DATATYPES)
        raise InvalidInput(f"{field}: unknown datatype {datatype!r} (one of {known})") from None


def from_dtype(dtype: np.dtype[np.generic]) -> str:
    """The V2 datatype name of a numpy dtype (str/bytes arrays count as BYTES)."""
    name = _BY_DTYPE.get(dtype)
    if name is not None:
        return name
    if dtype.kind in "SU":
        return "BYTES"
    raise ValueError(f"no V2 datatype for numpy dtype {dtype}")
