"""Merge and split of request tensors along the batch dimension, checked with data."""

from __future__ import annotations

import numpy as np
import pytest

from modelplane.model_server.batching.merge import SplitError, batch_key, batch_size, merge, split


def f32(*shape: int, start: float = 0.0) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.float32) + start).reshape(shape)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ({"x": f32(1, 4)}, {"x": f32(3, 4)}, True),
        ({"x": f32(1, 4)}, {"x": f32(1, 5)}, False),  # inner dimension differs
        ({"x": f32(1, 4)}, {"x": f32(1, 4).astype(np.float64)}, False),  # dtype differs
        ({"x": f32(1, 4)}, {"y": f32(1, 4)}, False),  # input name differs
        ({"x": f32(1, 4)}, {"x": f32(1, 4), "m": f32(1, 2)}, False),  # extra input
        ({"x": f32(2, 2, 3), "m": f32(2, 1)}, {"m": f32(5, 1), "x": f32(5, 2, 3)}, True),
        ({"s": np.array([b"a"], dtype=object)}, {"s": np.array([b"bc", b"d"], dtype=object)}, True),
    ],
)
def test_requests_share_a_batch_key_only_when_all_but_the_first_dimension_match(
    a: dict[str, np.ndarray], b: dict[str, np.ndarray], same: bool
) -> None:
    assert batch_key(a) is not None and batch_key(b) is not None
    assert (batch_key(a) == batch_key(b)) is same


@pytest.mark.parametrize(
    "inputs",
    [
        {},
        {"x": np.float32(3.0) * np.ones(())},  # scalar: no batch dimension
        {"x": f32(2, 4), "m": f32(3, 1)},  # inputs disagree on the first dimension
    ],
)
def test_requests_without_a_common_first_dimension_are_not_batchable(
    inputs: dict[str, np.ndarray],
) -> None:
    assert batch_key(inputs) is None


def test_merge_concatenates_in_request_order_and_split_gives_each_request_its_rows() -> None:
    requests = [{"x": f32(1, 3)}, {"x": f32(2, 3, start=100)}, {"x": f32(1, 3, start=200)}]
    merged = merge(requests)
    assert merged["x"].shape == (4, 3)
    assert [batch_size(r) for r in requests] == [1, 2, 1]
    np.testing.assert_array_equal(merged["x"][1:3], requests[1]["x"])

    outputs = {"y": merged["x"] * 2, "label": np.array([0, 1, 2, 3], dtype=np.int64)}
    parts = split(outputs, [1, 2, 1])
    for request, part in zip(requests, parts, strict=True):
        np.testing.assert_array_equal(part["y"], request["x"] * 2)
    assert [p["label"].tolist() for p in parts] == [[0], [1, 2], [3]]


def test_a_single_request_passes_through_without_copies() -> None:
    request = {"x": f32(2, 3)}
    assert merge([request])["x"] is request["x"]
    out = {"y": f32(7)}  # even an unbatched output shape is fine for one request
    assert split(out, [2])[0]["y"] is out["y"]


@pytest.mark.parametrize("output", [f32(3, 2), np.float32(1.0) * np.ones(())])
def test_split_rejects_outputs_whose_first_dimension_is_not_the_batch(
    output: np.ndarray,
) -> None:
    with pytest.raises(SplitError, match=r"'y'.*batch \(4\)"):
        split({"y": output}, [1, 3])
