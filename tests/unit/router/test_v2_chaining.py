"""V2-aware chaining: a V2 response's outputs become the next V2 request's inputs."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.router.chaining import next_request, v2_outputs
from modelplane.router.errors import ChainError
from modelplane.router.graph import Step
from modelplane.router.payload import Payload

RESPONSE = {
    "model_name": "m",
    "id": "req-1",
    "outputs": [
        {"name": "a", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0], "parameters": {}},
        {"name": "b", "datatype": "INT64", "shape": [1], "data": [3]},
    ],
}
ORIGINAL = Payload(b'{"inputs": []}')


def _step(**fields: Any) -> Step:
    return Step(node="root", index=1, name="next", **fields)


def test_response_outputs_become_inputs_with_the_same_names() -> None:
    out = next_request(_step(data="$response"), ORIGINAL, Payload.of(RESPONSE))
    assert out.json() == {
        "id": "req-1",
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]},
            {"name": "b", "datatype": "INT64", "shape": [1], "data": [3]},
        ],
    }


def test_mapping_renames_and_selects_outputs() -> None:
    out = next_request(
        _step(data="$response", mapping={"b": "INPUT0"}), ORIGINAL, Payload.of(RESPONSE)
    )
    assert out.json()["inputs"] == [
        {"name": "INPUT0", "datatype": "INT64", "shape": [1], "data": [3]}
    ]


def test_mapping_naming_a_missing_output_is_an_error() -> None:
    with pytest.raises(ChainError, match="no output named zzz"):
        next_request(_step(data="$response", mapping={"zzz": "x"}), ORIGINAL, Payload.of(RESPONSE))


def test_request_data_and_first_step_get_the_original_bytes() -> None:
    assert next_request(_step(), ORIGINAL, Payload.of(RESPONSE)) is ORIGINAL
    assert next_request(_step(data="$response"), ORIGINAL, None) is ORIGINAL


def test_non_v2_response_passes_through_byte_for_byte() -> None:
    previous = Payload(b'{"predictions": [1, 2]}  ')
    assert next_request(_step(data="$response"), ORIGINAL, previous) is previous
    with pytest.raises(ChainError, match="neither a V2 response nor a V2 request"):
        next_request(_step(data="$response", mapping={"a": "b"}), ORIGINAL, previous)


def test_ensemble_map_outputs_are_prefixed_with_step_names() -> None:
    ensemble = {
        "x": RESPONSE,
        "y": {"outputs": [{"name": "c", "datatype": "FP32", "shape": [1], "data": [0.5]}]},
    }
    names = [o["name"] for o in v2_outputs(ensemble) or []]
    assert names == ["x.a", "x.b", "y.c"]


def test_mapping_renames_the_inputs_of_a_v2_request() -> None:
    original = Payload.of(
        {"id": "1", "inputs": [{"name": "y", "data": [1]}, {"name": "z", "data": [2]}]}
    )
    out = next_request(_step(mapping={"y": "x"}), original, None)
    assert out.json() == {"id": "1", "inputs": [{"name": "x", "data": [1]}]}
    with pytest.raises(ChainError, match="no input named q"):
        next_request(_step(mapping={"q": "x"}), original, None)


def test_a_v2_response_given_as_a_nodes_input_becomes_a_request() -> None:
    out = next_request(_step(mapping={"a": "x"}), Payload.of(RESPONSE), None)
    assert [i["name"] for i in out.json()["inputs"]] == ["x"]


def test_soft_failed_ensemble_members_are_left_out_of_the_outputs() -> None:
    failed = {"error": "e", "cause": "c", "step": "root/y"}
    assert [o["name"] for o in v2_outputs({"x": RESPONSE, "y": failed}) or []] == ["x.a", "x.b"]
    assert v2_outputs({"y": failed}) is None


def test_binary_extension_body_parses_its_json_header_and_chains_without_decoding() -> None:
    header = b'{"outputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}'
    binary = Payload(
        header + b"\x00\x00\x80?",
        content_type=b"application/octet-stream",
        header_length=len(header),
    )
    assert binary.json()["outputs"][0]["name"] == "a"
    assert not binary.plain and binary.headers()["inference-header-content-length"] == str(
        len(header)
    )
    assert next_request(_step(), binary, None) is binary
    chained = next_request(_step(data="$response", mapping={"a": "x"}), ORIGINAL, binary)
    length = chained.header_length
    assert length is not None and chained.body[length:] == b"\x00\x00\x80?"  # not decoded
    assert chained.json() == {
        "parameters": {"binary_data_output": True},
        "inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}
        ],
    }
    with pytest.raises(ChainError, match="no output named zzz"):
        next_request(_step(data="$response", mapping={"zzz": "x"}), ORIGINAL, binary)


ASKED = Payload(
    b'{"parameters": {"temperature": 0.5, "binary_data_output": true},'
    b' "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]}'
)


def test_a_chained_request_carries_the_clients_request_parameters() -> None:
    # as Triton's ensembles forward theirs; binary_data_output asks for the graph's answer
    chained = next_request(_step(data="$response"), ASKED, Payload.of(RESPONSE))
    assert chained.json()["parameters"] == {"temperature": 0.5}
    assert (
        next_request(_step(data="$response"), ORIGINAL, Payload.of(RESPONSE))
        .json()
        .get("parameters")
        is None
    )  # a client that sent none: none added
    assert next_request(_step(), ASKED, Payload.of(RESPONSE)) is ASKED  # $request: as it came


def test_binary_and_grpc_chains_carry_them_too() -> None:
    from modelplane.router import tensors

    header = b'{"outputs":[{"name":"a","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}'
    binary = Payload(header + b"\x00\x00\x80?", content_type=b"application/octet-stream", header_length=len(header))  # fmt: skip
    chained = next_request(_step(data="$response"), ASKED, binary)
    assert chained.json()["parameters"] == {"temperature": 0.5, "binary_data_output": True}
    message = tensors.to_message(tensors.V2("response", [tensors.Tensor("a", "FP32", [1], raw=b"\x00\x00\x80?")]))  # fmt: skip
    over_grpc = next_request(_step(data="$response"), ASKED, Payload.of_message(message))
    assert over_grpc.message.parameters["temperature"].double_param == 0.5
    assert "binary_data_output" not in over_grpc.message.parameters
    grpc_client = Payload.of_message(tensors.to_message(tensors.V2(
        "request", [tensors.Tensor("x", "FP32", [1], raw=b"\x00\x00\x80?")],
        parameters={"temperature": 0.5})))  # fmt: skip
    from_grpc = next_request(_step(data="$response"), grpc_client, Payload.of(RESPONSE))
    assert from_grpc.json()["parameters"] == {"temperature": 0.5}
