"""Triton's classification extension as a pure function: top classes, their order and form."""

from __future__ import annotations

import numpy as np
import pytest

from modelplane.model_server.classification import asked_classes, asked_count, classify
from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.protocol.types import RequestOutput


def _texts(array: np.ndarray) -> list[str]:
    return [b.decode() for b in array.reshape(-1)]


def test_the_spec_example_highest_first_written_as_c_writes_floats() -> None:
    # the extension's own example: [1.1, 3.3, 0.5, 2.4] asked for 2 classes
    out = classify("o", np.array([1.1, 3.3, 0.5, 2.4], np.float32), 2, batched=False)
    assert out.shape == (2,) and out.dtype == np.object_
    assert _texts(out) == ["3.300000:1", "2.400000:3"]


def test_a_float32_value_is_written_from_its_own_bits() -> None:
    # 0.1 as FP32 is 0.100000001490116...: %f writes six places, as C's std::to_string does
    out = classify("o", np.array([0.1, 0.7], np.float32), 2, batched=False)
    assert _texts(out) == ["0.700000:1", "0.100000:0"]


def test_integers_are_written_in_decimal_and_compared_as_their_type() -> None:
    out = classify("o", np.array([3, 250, 7], np.uint8), 3, batched=False)
    assert _texts(out) == ["250:1", "7:2", "3:0"]
    out = classify("o", np.array([-5, 2, -1], np.int64), 2, batched=False)
    assert _texts(out) == ["2:1", "-1:2"]


def test_equal_values_keep_the_order_of_their_indices() -> None:
    out = classify("o", np.array([1.0, 2.0, 2.0, 2.0], np.float64), 3, batched=False)
    assert _texts(out) == ["2.000000:1", "2.000000:2", "2.000000:3"]


def test_a_batching_model_is_classified_per_batch_entry() -> None:
    scores = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, 0.3]], np.float32)
    out = classify("o", scores, 2, batched=True)
    assert out.shape == (2, 2)
    assert _texts(out) == ["0.900000:1", "0.500000:2", "0.800000:0", "0.300000:2"]


def test_a_model_that_does_not_batch_is_classified_as_one_tensor() -> None:
    scores = np.array([[0.1, 0.9, 0.5], [0.8, 0.2, 0.3]], np.float32)
    out = classify("o", scores, 2, batched=False)
    assert out.shape == (2,)
    assert _texts(out) == ["0.900000:1", "0.800000:3"]  # indices into the flattened tensor


def test_entries_beyond_the_first_dimension_are_flattened_per_batch_entry() -> None:
    scores = np.arange(8, dtype=np.int32).reshape(2, 2, 2)
    out = classify("o", scores, 1, batched=True)
    assert _texts(out) == ["3:3", "7:3"]


def test_the_count_is_clamped_to_the_elements_there_are() -> None:
    out = classify("o", np.array([[0.5, 0.25]], np.float32), 5, batched=True)
    assert out.shape == (1, 2)


def test_an_empty_batch_gives_an_empty_answer() -> None:
    out = classify("o", np.zeros((0, 3), np.float32), 2, batched=True)
    assert out.shape == (0, 2)


@pytest.mark.parametrize("dtype", [np.float16, np.bool_, np.object_])
def test_a_type_without_a_plain_order_is_refused(dtype: type) -> None:
    with pytest.raises(
        InvalidInput, match=r"output 'o': cannot classify a (FP16|BOOL|BYTES) output"
    ):
        classify("o", np.zeros(3, dtype), 1, batched=False)


@pytest.mark.parametrize("value", [0, -1, 1.5, "2", True, None])
def test_the_count_must_be_a_positive_integer(value: object) -> None:
    with pytest.raises(InvalidInput, match=r"output 'o': parameters.classification must be"):
        asked_count("o", {"classification": value})


def test_outputs_without_the_parameter_are_asked_for_their_values() -> None:
    assert asked_count("o", None) is None
    assert asked_count("o", {"binary_data": True}) is None
    asked = [
        RequestOutput(name="a", parameters={"classification": 3}),
        RequestOutput(name="b", parameters={"binary_data": True}),
        RequestOutput(name="c"),
    ]
    assert asked_classes(asked, {"a": "FP32", "b": "FP16"}) == {"a": 3}


def test_a_declared_type_that_cannot_be_classified_is_refused_before_the_model_runs() -> None:
    asked = [RequestOutput(name="half", parameters={"classification": 1})]
    with pytest.raises(InvalidInput, match="cannot classify a FP16 output"):
        asked_classes(asked, {"half": "FP16"})
    assert asked_classes(asked, {}) == {"half": 1}  # undeclared: checked on the answer


def test_a_label_follows_the_index_where_the_labels_have_one() -> None:
    out = classify("o", np.array([0.2, 0.5, 0.3], np.float32), 3, False, ("cat", "dog"))
    assert _texts(out) == ["0.500000:1:dog", "0.300000:2", "0.200000:0:cat"]
