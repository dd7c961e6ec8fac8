"""Pure: an example V2 request from a model's metadata, and the curl command that sends it."""

from __future__ import annotations

import json
import math
import shlex
from typing import Any

_FLOATS = {"FP16", "FP32", "FP64", "BF16"}
_INTS = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}


def example_tensor(spec: dict[str, Any]) -> dict[str, Any]:
    """A small tensor matching one metadata input: dynamic dimensions become 1."""
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in spec.get("shape", [1])]
    count = math.prod(shape)
    datatype = str(spec.get("datatype", "FP32"))
    data: list[Any]
    if datatype in _FLOATS:
        data = [round(0.5 + 0.25 * (i % 8), 2) for i in range(count)]
    elif datatype in _INTS:
        data = [i % 8 for i in range(count)]
    elif datatype == "BOOL":
        data = [i % 2 == 0 for i in range(count)]
    else:
        data = ["example"] * count
    return {"name": spec["name"], "shape": shape, "datatype": datatype, "data": data}


def example_request(metadata: dict[str, Any]) -> dict[str, Any]:
    """A V2 inference request for every input the model's metadata lists."""
    return {"inputs": [example_tensor(spec) for spec in metadata.get("inputs", [])]}


def curl(url: str, body: dict[str, Any]) -> str:
    """A ready-to-paste curl command that POSTs body as JSON to url."""
    payload = json.dumps(body, separators=(",", ":"))
    return (
        f"curl -s {shlex.quote(url)} -H 'content-type: application/json' -d {shlex.quote(payload)}"
    )
