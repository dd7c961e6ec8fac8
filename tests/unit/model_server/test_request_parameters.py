"""Triton's reserved request parameters: each works or is refused with its reason."""

from __future__ import annotations

import pytest

from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.request_parameters import NONE, RequestOptions, request_options


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
