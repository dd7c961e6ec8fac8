"""Triton's streaming inference (ModelStreamInfer) against the server, called with
tritonclient's stream API as a user calls Triton: every request answered on the stream in the
order sent, equal to the unary answer; a bad request answered with its error while the stream
goes on."""

from __future__ import annotations

from typing import Any

import numpy as np
import tritonclient.grpc as tgrpc

from tests.support.model_server import RunningServer
from tests.support.triton_stream import on_one_stream


def _inputs(a: np.ndarray) -> list[Any]:
    wrapped = []
    for name in ("INPUT0", "INPUT1"):
        tensor = tgrpc.InferInput(name, list(a.shape), "FP32")
        tensor.set_data_from_numpy(a)
        wrapped.append(tensor)
    return wrapped


def _stream(server: RunningServer, requests: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    return on_one_stream(server.grpc_target, requests)


def test_each_request_is_answered_in_order_as_the_unary_call_answers(
    onnx_server: RunningServer,
) -> None:
    rows = [np.full((1, 4), float(k), np.float32) for k in range(12)]
    answers = _stream(
        onnx_server,
        [{"model_name": "simple", "inputs": _inputs(r), "request_id": f"r{k}"}
         for k, r in enumerate(rows)],
    )  # fmt: skip
    unary = tgrpc.InferenceServerClient(onnx_server.grpc_target)
    assert [error for _, error in answers] == [None] * 12
    assert [result.get_response().id for result, _ in answers] == [f"r{k}" for k in range(12)]
    for (result, _), row in zip(answers, rows, strict=True):
        by_hand = unary.infer("simple", _inputs(row))
        for name in ("OUTPUT0", "OUTPUT1"):
            assert result.as_numpy(name).tobytes() == by_hand.as_numpy(name).tobytes()


def test_a_bad_request_is_answered_with_its_error_and_the_stream_goes_on(
    onnx_server: RunningServer,
) -> None:
    good = _inputs(np.ones((1, 4), np.float32))
    wrong = _inputs(np.ones((1, 3), np.float32))
    answers = _stream(
        onnx_server,
        [
            {"model_name": "simple", "inputs": good, "request_id": "first"},
            {"model_name": "simple", "inputs": wrong, "request_id": "wrong"},
            {"model_name": "nope", "inputs": good, "request_id": "unknown"},
            {"model_name": "simple", "inputs": good, "request_id": "last",
             "outputs": [tgrpc.InferRequestedOutput("OUTPUT0", class_count=2)]},
        ],
    )  # fmt: skip
    (first, none), (_, wrong_shape), (_, unknown), (last, none_again) = answers
    assert none is None and none_again is None
    assert first.as_numpy("OUTPUT0").tolist() == [[2.0] * 4]
    assert "shape [1, 3] does not match the model's [-1, 4]" in wrong_shape.message()
    assert "model 'nope'" in unknown.message()
    assert last.get_response().id == "last"
    assert [bytes(b) for b in last.as_numpy("OUTPUT0")] == [b"2.000000:0", b"2.000000:1"]
