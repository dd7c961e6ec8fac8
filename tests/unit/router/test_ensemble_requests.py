"""`chaining.ensemble_requests`, pure: outputs asked of an Ensemble by the names it answers
with (`<step>.<output>`) become each member's own request, in the form the client used."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.router import tensors
from modelplane.router.chaining import ensemble_requests
from modelplane.router.errors import UnknownOutput
from modelplane.router.graph import Step, load
from modelplane.router.payload import Payload

X = {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}


def steps() -> list[Step]:
    node = {"routerType": "Ensemble", "steps": [
        {"name": "a", "serviceUrl": "http://a/v2/models/a/infer"},
        {"name": "b", "serviceUrl": "http://b/v2/models/b/infer"},
        {"serviceUrl": "http://c/v2/models/c/infer"},  # unnamed: its key is its index, "2"
    ]}  # fmt: skip
    return load({"name": "g", "nodes": {"root": node}}).root.steps


def request(*outputs: Any) -> Payload:
    document: dict[str, Any] = {"inputs": [X]}
    if outputs:
        document["outputs"] = list(outputs)
    return Payload.of(document)


def asked(payload: Payload) -> list[Any]:
    v2 = payload.v2()
    assert v2 is not None
    return v2.outputs or []


def test_no_outputs_asked_or_none_by_a_members_name_leaves_the_request_as_it_came() -> None:
    assert ensemble_requests(steps(), request()) is None
    assert ensemble_requests(steps(), request({"name": "y"})) is None
    assert ensemble_requests(steps(), Payload(b"not json")) is None


def test_each_member_gets_its_own_outputs_unprefixed_and_the_others_are_left_out() -> None:
    binary = {"name": "a.y", "parameters": {"binary_data": True}}
    found = ensemble_requests(steps(), request(binary, {"name": "2.z"}, {"name": "a.w"}))
    assert found is not None
    assert sorted(found) == ["2", "a"]  # b: nothing asked of it
    assert asked(found["a"]) == [{"name": "y", "parameters": {"binary_data": True}}, {"name": "w"}]
    assert asked(found["2"]) == [{"name": "z"}]
    assert found["a"].json()["inputs"] == [X]  # the inputs as they came, in JSON


def test_a_name_no_member_answers_is_refused_with_400() -> None:
    with pytest.raises(UnknownOutput, match=r"'q', 'c\.y' is not named <step>.<output>") as info:
        ensemble_requests(steps(), request({"name": "a.y"}, {"name": "q"}, {"name": "c.y"}))
    assert info.value.status == 400


def test_a_binary_body_and_a_grpc_message_keep_their_form() -> None:
    document = tensors.from_document({"inputs": [X], "outputs": [{"name": "b.y"}]})
    assert document is not None
    v2 = tensors.from_message(tensors.to_message(document))  # raw tensors
    body = Payload.of_v2(v2, binary=True)
    assert body.header_length is not None
    found = ensemble_requests(steps(), body)
    assert found is not None and found["b"].header_length is not None
    assert asked(found["b"]) == [{"name": "y"}]
    assert found["b"].v2().tensors[0].raw_bytes() == v2.tensors[0].raw_bytes()  # type: ignore[union-attr]
    message = Payload.of_message(tensors.to_message(v2))
    found = ensemble_requests(steps(), message)
    assert found is not None and found["b"].message is not None
    assert [o.name for o in found["b"].message.outputs] == ["y"]
