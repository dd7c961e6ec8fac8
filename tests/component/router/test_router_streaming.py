"""A graph over a gRPC stream (Triton's ModelStreamInfer), against real model servers and
ONNX models: tritonclient's stream API calls the graph as it calls a model, every request is
answered in order with what calling the models by hand answers, a failure is that answer's
error while the stream goes on, and a Soft step's failure is named in the answer."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as tgrpc

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.graphs import X, by_hand, chain, chain_by_hand, grpc_url, rest_url
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer
from tests.support.triton_stream import on_one_stream


def _tensor(x: np.ndarray, name: str = "x") -> list[Any]:
    tensor = tgrpc.InferInput(name, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return [tensor]


def _stream(nodes: dict[str, Any], requests: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """A router serving graph `g`; `requests` (infer keyword arguments) sent on one stream."""
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings())
    with serve_router(app) as (_, target):
        return on_one_stream(target, requests)


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-steps", "rest-steps"])
def test_a_sequence_answers_each_request_of_a_stream_in_order_as_the_hand_calls(
    models: RunningServer, url: Any
) -> None:
    rows = [X * k for k in range(1, 9)]
    answers = _stream(
        chain(models, url),
        [{"model_name": "g", "inputs": _tensor(r), "request_id": f"r{k}"}
         for k, r in enumerate(rows)],
    )  # fmt: skip
    assert [error for _, error in answers] == [None] * 8
    for k, ((result, _), row) in enumerate(zip(answers, rows, strict=True)):
        response = result.get_response()
        assert (response.id, response.model_name) == (f"r{k}", "g")
        assert response.parameters["graph_steps"].string_param == "root/embed,root/mix,root/head"
        expected = chain_by_hand(models, row, "embed", "mix", "head")
        assert result.as_numpy("y").tobytes() == expected.tobytes()


def test_a_failed_request_is_answered_with_the_routers_error_and_the_stream_goes_on(
    models: RunningServer,
) -> None:
    answers = _stream(
        chain(models, grpc_url),
        [
            {"model_name": "g", "inputs": _tensor(X[:, :4])},
            {"model_name": "other", "inputs": _tensor(X)},
            {"model_name": "g", "inputs": _tensor(X), "model_version": "2"},
            {"model_name": "g", "inputs": _tensor(X), "request_id": "fine"},
        ],
    )  # fmt: skip
    (_, wrong_shape), (_, other), (_, versioned), (fine, none) = answers
    document = json.loads(wrong_shape.message())
    assert document["step"] == "root/embed"
    assert "does not match the model's [-1, 8]" in document["cause"]
    assert "graph 'other' is not served here; this is 'g'" in other.message()
    assert "graph 'g' has no versions" in versioned.message()
    assert none is None and fine.get_response().id == "fine"


def test_a_soft_failed_member_is_named_in_the_answers_parameters(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "a", "serviceUrl": grpc_url(models, "embed")},
                {"name": "gone", "serviceUrl": grpc_url(models, "missing")},
            ],
        }
    }
    [(result, error)] = _stream(nodes, [{"model_name": "g", "inputs": _tensor(X)}])
    assert error is None
    assert result.as_numpy("a.y").tobytes() == by_hand(models, "embed", X).tobytes()
    assert result.get_response().parameters["graph_soft_failures"].string_param == "root/gone"
