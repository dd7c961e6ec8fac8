"""Pure merge and split of per-request tensors along the first (batch) dimension."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

Tensors = Mapping[str, np.ndarray]


class SplitError(ValueError):
    """A batched output cannot be split back: its first dimension is not the batch."""


def batch_key(inputs: Tensors) -> Hashable | None:
    """What must match for two requests to share a batch; None when the request is not batchable.

    A request is batchable when every input has at least one dimension and all inputs agree on
    the first one. Two requests merge only when names, datatypes and the dimensions after the
    first are identical.
    """
    if not inputs:
        return None
    sizes = {array.shape[0] if array.ndim else -1 for array in inputs.values()}
    if len(sizes) != 1 or -1 in sizes:
        return None
    return tuple(sorted((name, array.dtype.str, array.shape[1:]) for name, array in inputs.items()))


def batch_size(inputs: Tensors) -> int:
    """The first dimension shared by all inputs of a batchable request."""
    return int(next(iter(inputs.values())).shape[0])


def merge(requests: Sequence[Tensors]) -> dict[str, np.ndarray]:
    """Concatenate requests that share one batch_key into one batch, in order."""
    if len(requests) == 1:
        return dict(requests[0])
    first = requests[0]
    return {name: np.concatenate([r[name] for r in requests], axis=0) for name in first}


def split(outputs: Tensors, sizes: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Cut each batched output back into per-request parts of the given first-dimension sizes."""
    if len(sizes) == 1:
        return [dict(outputs)]
    total = sum(sizes)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise SplitError(
                f"output {name!r} has shape {list(array.shape)}; a batched model must return "
                f"the batch ({total}) as its first dimension"
            )
    bounds = np.cumsum(sizes)[:-1]
    parts: list[dict[str, np.ndarray]] = [{} for _ in sizes]
    for name, array in outputs.items():
        for part, piece in zip(parts, np.split(array, bounds, axis=0), strict=True):
            part[name] = piece
    return parts
