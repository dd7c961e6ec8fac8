"""`modelplane.edge.v2data`: a tensor's JSON data read as its datatype, refusing what the
datatype cannot hold (numpy alone would change it), with the first such value named."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from modelplane.edge.v2data import NotOfType, typed_array

TAKEN = [
    ([1, 2, 3], "int8", [1, 2, 3]),
    ([[1, 2], [3, 4]], "int32", [[1, 2], [3, 4]]),
    ([2.0, -3.0], "int64", [2, -3]),  # whole floats are whole numbers
    ([18446744073709551615], "uint64", [18446744073709551615]),
    ([-128, 127], "int8", [-128, 127]),
    ([1, 2.5], "float32", [1.0, 2.5]),
    ([1, 2], "float64", [1.0, 2.0]),
    (
        [3.4e38, 1e-50],
        "float32",
        [float(np.float32(3.4e38)), 0.0],
    ),  # within range; too small is zero, as for any reader
    ([65504.0], "float16", [65504.0]),
    ([float("-inf"), 1.0], "float32", [float("-inf"), 1.0]),  # infinity is a float's own value
    ([True, False], "bool", [True, False]),
    ([], "int64", []),
    (7, "int16", 7),
]


@pytest.mark.parametrize(("data", "dtype", "expected"), TAKEN)
def test_values_the_datatype_holds_are_read_as_it(data: Any, dtype: str, expected: Any) -> None:
    array = typed_array(data, np.dtype(dtype))
    assert array.dtype == np.dtype(dtype)
    assert array.tolist() == expected


REFUSED = [
    ([1, 2, 1.5], "int64", "1.5 is not an integer"),
    ([1, "7"], "int32", '"7" is not an integer'),
    (["1.5"], "float32", '"1.5" is not a number'),
    ([1.0, None], "float32", "null is not a number"),
    ([True, False], "float32", "true is not a number"),
    ([float("nan")], "int32", "NaN is not an integer"),
    ([1, float("inf")], "int64", "Infinity is not an integer"),
    ([1, 2, 300], "int8", "300 is out of range for int8"),
    ([-1], "uint8", "-1 is out of range for uint8"),
    ([2**63], "int64", "9223372036854775808 is out of range for int64"),
    (orjson.loads(b"[1, 1180591620717411303424]"), "int64",  # orjson: a float
     "1180591620717411303424 is out of range for int64"),
    ([1, 2**70], "int64", "1180591620717411303424 is out of range for int64"),  # stdlib json
    ([True, 2], "bool", "2 is not true or false"),
    (["a"], "bool", '"a" is not true or false'),
    ([0, 1], "bool", "0 is not true or false"),
    ([1.0, 1e39], "float32", "1e+39 is out of range for float32"),
    ([-1e39], "float32", "-1e+39 is out of range for float32"),
    ([float("nan"), float("inf"), 1e39], "float32", "1e+39 is out of range for float32"),
    ([1, 70000], "float16", "70000 is out of range for float16"),
    # true or false among numbers, which numpy reads as 1 and 0, short and long, flat and nested
    ([True, 2.0], "float32", "true is not a number"),
    ([2, False], "int64", "false is not an integer"),
    ([[1, 2], [3, True]], "int32", "true is not an integer"),
    ([0.5] * 1000 + [False], "float32", "false is not a number"),
    ([[1] * 100 for _ in range(10)] + [[1] * 99 + [True]], "int64", "true is not an integer"),
    ([[2, 3]] * 500 + [[True, 3]], "uint8", "true is not an integer"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "dtype", "message"), REFUSED)
def test_values_it_cannot_hold_are_refused_by_name(data: Any, dtype: str, message: str) -> None:
    with pytest.raises(NotOfType) as caught:
        typed_array(data, np.dtype(dtype))
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)  # every caller's existing refusal path


def test_ragged_data_is_numpys_value_error() -> None:
    with pytest.raises(ValueError, match="inhomogeneous"):
        typed_array([1, [2]], np.dtype("int32"))
