"""A request's own `timeout` parameter as the router reads it, in each form a request takes;
a body that does not name it is not parsed to look for it."""

from __future__ import annotations

import orjson
import pytest

from modelplane.router.payload import Payload
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb


def _json(parameters: dict[str, object] | None) -> Payload:
    doc: dict[str, object] = {"inputs": []}
    if parameters is not None:
        doc["parameters"] = parameters
    return Payload(orjson.dumps(doc))


def test_json_binary_and_grpc_requests_give_their_timeout_in_seconds() -> None:
    assert _json({"timeout": 250_000}).asked_timeout() == 0.25
    header = orjson.dumps({"inputs": [], "parameters": {"timeout": 1000}})
    binary = Payload(header + b"\x00" * 8, header_length=len(header))
    assert binary.asked_timeout() == 0.001
    message = pb.ModelInferRequest(model_name="g")
    message.parameters["timeout"].int64_param = 2_000_000
    assert Payload.of_message(message).asked_timeout() == 2.0


def test_no_timeout_or_zero_asks_for_none_and_an_unnamed_one_is_not_parsed() -> None:
    assert _json(None).asked_timeout() is None
    assert _json({"timeout": 0}).asked_timeout() is None
    assert _json({"other": 1}).asked_timeout() is None
    unread = _json({"other": 1})
    unread.asked_timeout()
    assert not unread.parsed
    assert Payload.of_message(pb.ModelInferRequest()).asked_timeout() is None


@pytest.mark.parametrize("value", [-1, 1.5, "100", True])
def test_a_malformed_timeout_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"parameters\.timeout must be a whole number"):
        _json({"timeout": value}).asked_timeout()


def test_a_key_spelled_with_json_escapes_is_read_as_any_reader_reads_it() -> None:
    # "\u0074imeout" is "timeout" to every JSON reader: the quick scan must not miss it
    escaped = Payload(b'{"inputs": [], "param\\u0065ters": {"\\u0074imeout": 250000}}')
    assert escaped.asked_timeout() == 0.25
    assert escaped.request_parameters() == {"timeout": 250000}
    assert Payload(b'{"inputs": [], "parameters": {"x": "caf\\u00e9"}}').asked_timeout() is None
