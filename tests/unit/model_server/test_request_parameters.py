"""Triton's reserved request parameters: each works or is refused with its reason."""

from __future__ import annotations

import pytest

from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.protocol.types import InferenceRequest
from modelplane.model_server.request_parameters import (
    NONE,
    RequestOptions,
    refuse_shared_memory,
    request_options,
)


@pytest.mark.parametrize(
    "parameters",
    [
        None,
        {},
        {"priority": 0, "sequence_id": 0, "sequence_start": False, "sequence_end": False},
        {"sequence_id": ""},
        {"timeout": 0},
        {"my_own": "kept", "binary_data_output": True},
    ],
)
def test_defaults_and_other_parameters_ask_nothing(parameters: dict[str, object] | None) -> None:
    assert request_options(parameters) == NONE


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"priority": 1}, "parameters.priority: this server has no priority levels"),
        ({"priority": "0"}, "parameters.priority"),
        ({"sequence_id": 7}, "parameters.sequence_id: this server has no sequence batching"),
        ({"sequence_id": "corr-1"}, "parameters.sequence_id"),
        ({"sequence_id": False}, "parameters.sequence_id"),
        ({"sequence_start": True}, "parameters.sequence_start"),
        ({"sequence_end": True}, "parameters.sequence_end"),
        ({"sequence_end": 0}, "parameters.sequence_end"),
        ({"timeout": -1}, "parameters.timeout must be a whole number of microseconds"),
        ({"timeout": 1.5}, "parameters.timeout"),
        ({"timeout": "100"}, "parameters.timeout"),
        ({"timeout": True}, "parameters.timeout"),
    ],
)
def test_what_this_server_cannot_do_is_refused(parameters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        request_options(parameters)


def test_the_refusal_says_what_may_be_sent() -> None:
    with pytest.raises(InvalidInput) as caught:
        request_options({"sequence_id": 5})
    assert "(send 0 or '', or leave it out; got 5)" in caught.value.message


def test_a_timeout_in_microseconds_bounds_the_request() -> None:
    assert request_options({"timeout": 250_000}) == RequestOptions(timeout=0.25)


def test_the_earlier_of_the_request_timeout_and_the_server_timeout_applies() -> None:
    asked = RequestOptions(timeout=0.25)
    assert asked.deadline(None) == 0.25
    assert asked.deadline(10.0) == 0.25
    assert asked.deadline(0.1) == 0.1
    assert NONE.deadline(3.0) == 3.0 and NONE.deadline(None) is None
    assert asked.whose(0.25) == "the request's timeout parameter"
    assert asked.whose(0.1) == "the server's --request-timeout"


def _request(input_parameters: object = None, output_parameters: object = None) -> InferenceRequest:
    tensor = {"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}
    return InferenceRequest.model_validate(
        {
            "inputs": [{**tensor, "parameters": input_parameters}],
            "outputs": [{"name": "y", "parameters": output_parameters}],
        }
    )


@pytest.mark.parametrize("where", ["input", "output"])
@pytest.mark.parametrize(
    "name", ["shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"]
)
def test_a_shared_memory_region_is_refused_on_inputs_and_outputs(where: str, name: str) -> None:
    parameters = {name: "r" if name.endswith("region") else 4, "binary_data": False}
    request = _request(**{f"{where}_parameters": parameters})
    with pytest.raises(InvalidInput, match=f"parameters.{name}: this server has no shared memory"):
        refuse_shared_memory(request)


def test_tensors_without_shared_memory_pass() -> None:
    refuse_shared_memory(_request({"binary_data_size": 4}, {"binary_data": True}))
    refuse_shared_memory(_request())
