"""Randomly broken V2 documents for the tests that send them (seeded by the caller): a few
places replaced by an odd value, removed, or given an odd key."""

from __future__ import annotations

import copy
import json
import random
import struct
from collections.abc import Iterator
from typing import Any

ODD = [None, True, 0, -1, 2**64, 2**70, 1e308, "", "x", "FP32", "BYTES", [], {}, [None],
       [1, 2], [-1, 8], {"a": 1}, 1.5, [True], {"timeout": 5}, {"binary_data_size": 4},
       {"binary_data_output": True}]  # fmt: skip


def _places(doc: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        yield from _places(value, (*at, key))


def broken(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """`doc` with one to three places replaced by an odd value, removed, or given an odd key."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 2, 3))):
        places = [p for p in _places(doc) if p]
        if not places:
            break
        *path, last = rng.choice(places)
        parent: Any = doc
        for key in path:
            parent = parent[key]
        roll = rng.random()
        if roll < 0.6:
            parent[last] = copy.deepcopy(rng.choice(ODD))
        elif roll < 0.8:
            del parent[last]
        elif isinstance(parent, dict):
            parent[rng.choice(("extra", "model_name", "data", "parameters"))] = rng.choice(ODD)
    return doc


def in_binary(doc: dict[str, Any], rng: random.Random) -> tuple[bytes, dict[str, str]]:
    """`doc` in the binary extension, its tensors' data raw (sometimes cut short, its size
    sometimes wrong): (body, headers)."""
    doc = copy.deepcopy(doc)
    tail = b""
    for key in ("inputs", "outputs"):
        tensors = doc.get(key)
        for tensor in tensors if isinstance(tensors, list) else ():
            if isinstance(tensor, dict) and isinstance(tensor.get("data"), list):
                count = len(tensor.pop("data"))
                raw = struct.pack(f"<{count}f", *range(count))
                raw = raw[: rng.choice((len(raw), len(raw), 3, 0))]
                tensor["parameters"] = {"binary_data_size": rng.choice((len(raw), -1, "4", 99))}
                tail += raw
    header = json.dumps(doc).encode()
    return header + tail, {"inference-header-content-length": str(len(header))}
