"""An Ensemble's answer: the map through POST /, one merged V2 response otherwise, with each
member's tensors in the form they came in (raw bytes never decoded to JSON on the way)."""

from __future__ import annotations

import struct

import pytest

from modelplane.router import tensors
from modelplane.router.chaining import next_request
from modelplane.router.ensemble import EnsembleAnswer, merge
from modelplane.router.errors import ChainError, error_document
from modelplane.router.graph import Step
from modelplane.router.payload import Payload
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb

JSON_MEMBER = {
    "model_name": "m",
    "id": "req-1",
    "outputs": [{"name": "a", "datatype": "FP32", "shape": [2], "data": [1.0, 2.0]}],
}
NOT_UTF8 = struct.pack("<I", 2) + b"\xff\xfe"
ORIGINAL = Payload(b'{"inputs": []}')


def _binary_member() -> Payload:
    header = (
        b'{"id":"req-1","outputs":[{"name":"b","datatype":"BYTES","shape":[1],'
        b'"parameters":{"binary_data_size":6}}]}'
    )
    return Payload(
        header + NOT_UTF8, content_type=b"application/octet-stream", header_length=len(header)
    )


def _grpc_member() -> Payload:
    message = pb.ModelInferResponse(model_name="n", id="req-1")
    out = message.outputs.add(name="c", datatype="INT32", shape=[3])
    del out
    message.raw_output_contents.append(struct.pack("<3i", 7, 8, 9))
    return Payload.of_message(message)


def test_members_merge_with_prefixed_names_raw_tensors_kept_raw() -> None:
    merged = merge({"x": Payload.of(JSON_MEMBER), "y": _binary_member(), "z": _grpc_member()})
    assert merged is not None and merged.kind == "response" and merged.id == "req-1"
    assert [t.name for t in merged.tensors] == ["x.a", "y.b", "z.c"]
    x, y, z = merged.tensors
    assert x.raw is None and x.data == [1.0, 2.0]
    assert y.raw == NOT_UTF8  # never decoded: JSON could not carry it, bytes can
    assert z.raw == struct.pack("<3i", 7, 8, 9)
    body, length = tensors.to_binary(merged)
    assert length is not None and body.endswith(NOT_UTF8 + struct.pack("<3i", 7, 8, 9))


def test_a_member_that_is_not_a_v2_response_leaves_the_map_unmerged() -> None:
    assert merge({"x": Payload.of(JSON_MEMBER), "y": Payload(b'{"predictions": [1]}')}) is None
    assert merge({"x": Payload(b"not json")}) is None
    assert merge({}) is None


def test_soft_failed_members_are_in_the_map_and_left_out_of_the_merge() -> None:
    failed = Payload.of(error_document("step y failed", "boom", "root/y"))
    answer = EnsembleAnswer({"x": Payload.of(JSON_MEMBER), "y": failed}, frozenset({"y"}))
    assert answer.json() == {"x": JSON_MEMBER, "y": failed.json()}
    merged = answer.v2()
    assert merged is not None and [t.name for t in merged.tensors] == ["x.a"]
    only_failed = EnsembleAnswer({"y": failed}, frozenset({"y"}))
    assert only_failed.v2() is None


def test_the_map_decodes_binary_members_and_refuses_what_json_cannot_carry() -> None:
    grpc = EnsembleAnswer({"z": _grpc_member()}, frozenset())
    assert grpc.json()["z"]["outputs"][0]["data"] == [7, 8, 9]
    with pytest.raises(ChainError, match="not UTF-8"):
        EnsembleAnswer({"y": _binary_member()}, frozenset()).body  # noqa: B018


def test_a_next_step_gets_the_merged_outputs_as_inputs_in_their_own_form() -> None:
    step = Step(node="root", index=1, name="next", data="$response")
    answer = EnsembleAnswer({"x": Payload.of(JSON_MEMBER), "y": _binary_member()}, frozenset())
    request = next_request(step, ORIGINAL, answer)
    v2 = request.v2()
    assert request.header_length is not None  # raw stays raw: a binary request
    assert v2 is not None and v2.kind == "request" and v2.id == "req-1"
    assert [(t.name, t.raw) for t in v2.tensors] == [("x.a", None), ("y.b", NOT_UTF8)]
    plain = EnsembleAnswer({"x": Payload.of(JSON_MEMBER)}, frozenset())
    as_json = next_request(step, ORIGINAL, plain)
    assert as_json.header_length is None  # JSON members chain as JSON
    assert as_json.json()["inputs"] == [
        {"name": "x.a", "datatype": "FP32", "shape": [2], "data": [1.0, 2.0]}
    ]
    mapped = Step(node="root", index=1, name="next", data="$response", mapping={"x.a": "in"})
    assert [t.name for t in next_request(mapped, ORIGINAL, plain).v2().tensors] == ["in"]
    with pytest.raises(ChainError, match="no output named q"):
        next_request(
            Step(node="root", index=1, name="n", data="$response", mapping={"q": "i"}),
            ORIGINAL,
            plain,
        )


def test_the_response_of_json_members_is_merged_as_json() -> None:
    answer = EnsembleAnswer(
        {"x": Payload.of(JSON_MEMBER), "y": Payload.of(JSON_MEMBER)}, frozenset()
    )
    response = answer.response(lambda: pytest.fail("JSON members are never written binary"))
    assert response is not None and response.header_length is None
    assert [o["name"] for o in response.json()["outputs"]] == ["x.a", "y.a"]
    assert response.json()["id"] == "req-1"
    assert (
        EnsembleAnswer({"x": Payload(b'{"predictions": [1]}')}, frozenset()).response(lambda: False)
        is None
    )


@pytest.mark.parametrize("binary", [True, False])
def test_the_response_of_raw_members_is_binary_when_the_client_asked(binary: bool) -> None:
    answer = EnsembleAnswer({"x": Payload.of(JSON_MEMBER), "z": _grpc_member()}, frozenset())
    response = answer.response(lambda: binary)
    assert response is not None
    assert (response.header_length is not None) is binary
    v2 = response.v2()
    assert v2 is not None and [t.name for t in v2.tensors] == ["x.a", "z.c"]
    assert v2.tensors[1].json_data() == [7, 8, 9]


def test_a_nested_ensemble_merges_with_both_prefixes() -> None:
    inner = EnsembleAnswer({"p": Payload.of(JSON_MEMBER), "q": _grpc_member()}, frozenset())
    outer = EnsembleAnswer({"x": Payload.of(JSON_MEMBER), "inner": inner}, frozenset())
    response = outer.response(lambda: False)
    assert response is not None
    assert [o["name"] for o in response.json()["outputs"]] == ["x.a", "inner.p.a", "inner.q.c"]
