"""`v2grpc.messages.fill_params`: plain values into InferParameters, each in the field that
carries it exactly, and a value none carries refused by name rather than rewritten."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.messages import NotAParameter, fill_params, params_to_dict


def test_each_value_travels_in_its_own_field_and_comes_back_equal() -> None:
    given = {
        "flag": True,
        "small": -(2**63),
        "large": 2**64 - 1,  # past int64: uint64_param (was a ValueError, a 500)
        "ratio": 0.25,
        "text": "abc",
        "numpy": np.int64(3),
    }
    message = pb.ModelInferRequest()
    fill_params(message.parameters, given)
    fields = {k: v.WhichOneof("parameter_choice") for k, v in message.parameters.items()}
    assert fields == {
        "flag": "bool_param",
        "small": "int64_param",
        "large": "uint64_param",
        "ratio": "double_param",
        "text": "string_param",
        "numpy": "int64_param",
    }
    assert params_to_dict(message.parameters) == given


@pytest.mark.parametrize(
    ("value", "spelled"),
    [(None, "null"), ([1, 2], "[1, 2]"), ({"a": 1}, '{"a": 1}'), (2**64, str(2**64))],
)
def test_a_value_no_field_carries_is_refused_not_rewritten(value: Any, spelled: str) -> None:
    """They were written as Python's text: "None", "[1, 2]", "{'a': 1}"."""
    message = pb.ModelInferRequest()
    with pytest.raises(NotAParameter) as caught:
        fill_params(message.parameters, {"p": value})
    assert str(caught.value) == (
        f"parameter 'p' is {spelled}: gRPC carries true or false, integers within 64 bits, "
        "numbers and strings"
    )
    assert "p" not in message.parameters  # no empty entry left behind


def test_an_entry_with_no_value_is_refused_when_read() -> None:
    """It had been read as null (and a model server echoed it as the text "None")."""
    message = pb.ModelInferRequest()
    message.parameters["p"].SetInParent()
    with pytest.raises(NotAParameter, match="parameter 'p' has no value: set one of"):
        params_to_dict(message.parameters)
