"""Triton's classification extension, pure.

An output asked for with `parameters.classification: N` comes back as its N highest-valued
elements instead of its values: a BYTES tensor of `"<value>:<index>"` strings, highest first,
shape `[batch, N]` when the model batches (`max_batch_size > 0`: one list per batch entry)
and `[N]` otherwise (the whole tensor is one list). N is clamped to the elements there are.
Values are written as C's `%f` writes them (`3.300000`), integers in decimal, as Triton writes
them; equal values keep the order of their indices. Only numeric outputs of a type with a
plain order can be classified (no BOOL, BYTES, FP16 or BF16, as in Triton).

An output declared with `labels` (a file of one label per line, Triton's `label_filename`)
has `:<label>` written after each index that file has a line for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.protocol.datatypes import from_dtype
from modelplane.model_server.protocol.types import RequestOutput

PARAMETER = "classification"
CLASSIFIABLE = frozenset(
    {"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32", "FP64"}
)


def asked_classes(
    requested: list[RequestOutput] | None, datatypes: dict[str, str]
) -> dict[str, int]:
    """The outputs asked for as classes and how many of each, checked before the model runs
    (`datatypes`: the model's declared output types, where it declares them)."""
    asked: dict[str, int] = {}
    for output in requested or ():
        count = asked_count(output.name, output.parameters)
        if count is not None:
            if output.name in datatypes:
                check_classifiable(output.name, datatypes[output.name])
            asked[output.name] = count
    return asked


def asked_count(output: str, parameters: dict[str, Any] | None) -> int | None:
    """How many classes `output` is asked for (None: its values are asked for)."""
    if not parameters or PARAMETER not in parameters:
        return None
    value = parameters[PARAMETER]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(
            f"output {output!r}: parameters.{PARAMETER} must be a positive integer "
            f"(how many classes to return), not {value!r}"
        )
    return value


def check_classifiable(output: str, datatype: str) -> None:
    """Refuse a classification of an output whose type has no plain order."""
    if datatype not in CLASSIFIABLE:
        raise InvalidInput(
            f"output {output!r}: cannot classify a {datatype} output "
            f"(classification takes {', '.join(sorted(CLASSIFIABLE))})"
        )


def classify(
    output: str,
    array: np.ndarray[Any, Any],
    count: int,
    batched: bool,
    labels: Sequence[str] = (),
) -> np.ndarray[Any, Any]:
    """The top `count` classes of `array` as a BYTES (object) array of b"<value>:<index>",
    or b"<value>:<index>:<label>" where `labels` has one for that index."""
    check_classifiable(output, from_dtype(array.dtype))
    per_entry = batched and array.ndim > 0
    if per_entry:
        rows = array.reshape(array.shape[0], math.prod(array.shape[1:]))
    else:
        rows = array.reshape(1, array.size)
    keep = min(count, rows.shape[1])
    classes = np.empty((rows.shape[0], keep), dtype=np.object_)
    for r, row in enumerate(rows):
        values = row.tolist()
        order = sorted(range(len(values)), key=values.__getitem__, reverse=True)
        for k, index in enumerate(order[:keep]):
            label = f":{labels[index]}" if index < len(labels) else ""
            classes[r, k] = f"{_written(values[index])}:{index}{label}".encode()
    return classes if per_entry else classes[0]


def _written(value: int | float) -> str:
    return f"{value:f}" if isinstance(value, float) else str(value)
