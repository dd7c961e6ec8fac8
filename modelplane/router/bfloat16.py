"""bfloat16, the high half of a float32, to and from float32 without ml_dtypes: how the router
puts BF16 tensors into JSON (as float32 numbers, as the model server writes them) and back."""

from __future__ import annotations

from typing import Any

import numpy as np


def bf16_to_float32(raw: bytes) -> np.ndarray[Any, Any]:
    """Raw bfloat16 (the high half of a float32) as float32 values, exactly."""
    halves = np.frombuffer(raw, dtype="<u2").astype("<u4")
    return (halves << 16).view("<f4")


def float32_to_bf16(array: np.ndarray[Any, Any]) -> bytes:
    """float32 values as raw bfloat16, rounded to nearest even (as ml_dtypes and the model
    server round); a NaN stays a NaN."""
    bits = np.ascontiguousarray(array, dtype="<f4").reshape(-1).view("<u4")
    rounded = (bits + (0x7FFF + ((bits >> 16) & 1))) >> 16
    nan = np.isnan(array.reshape(-1))
    rounded[nan] = (bits[nan] >> 16) | 0x0040  # quiet, and never rounded into an infinity
    packed: bytes = rounded.astype("<u2").tobytes()
    return packed
