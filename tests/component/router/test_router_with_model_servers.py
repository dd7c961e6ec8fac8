"""Every node type against real `modelplane serve` model servers with real ONNX models, through
each of the router's HTTP edges: the event loop (the default) and threads (``--http-edge
threads``)."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.select import select_steps
from modelplane.router.settings import RouterSettings
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_identity, onnx_matmul

X = [[0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 0.0, 3.0]]


pytestmark = pytest.mark.usefixtures("both_edges")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """embed (8->4), mix (4->4), head (4->2), alt (8->4, other weights), echo (identity 8)."""
    root: Path = tmp_path_factory.mktemp("router-models")
    onnx_matmul(root / "embed" / "model.onnx", 8, 4, seed=1)
    onnx_matmul(root / "mix" / "model.onnx", 4, 4, seed=2)
    onnx_matmul(root / "head" / "model.onnx", 4, 2, seed=3)
    onnx_matmul(root / "alt" / "model.onnx", 8, 4, seed=4)
    onnx_identity(root / "echo" / "model.onnx", "FP32", width=8)
    with server_in_thread(model_repository=root) as running:
        yield running


def infer_url(server: RunningServer, model: str) -> str:
    return f"{server.url}/v2/models/{model}/infer"


def request(name: str, rows: list[list[float]]) -> dict[str, Any]:
    shape = [len(rows), len(rows[0])]
    flat = [v for row in rows for v in row]
    return {"inputs": [{"name": name, "datatype": "FP32", "shape": shape, "data": flat}]}


def call(server: RunningServer, model: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(infer_url(server, model), json=body, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@contextmanager
def router(
    nodes: dict[str, Any], name: str = "g", seed: int | None = None
) -> Iterator[httpx.Client]:
    rng = random.Random(seed) if seed is not None else None
    app = RouterApp(load({"name": name, "nodes": nodes}), RouterSettings(), rng=rng)
    with serve_router(app) as (base, _), httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_three_model_v2_chain_equals_calling_the_models_by_hand(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "embed", "serviceUrl": infer_url(models, "embed")},
                {
                    "name": "mix",
                    "serviceUrl": infer_url(models, "mix"),
                    "data": "$response",
                    "mapping": {"y": "x"},
                },
                {
                    "name": "head",
                    "serviceUrl": infer_url(models, "head"),
                    "data": "$response",
                    "mapping": {"y": "x"},
                },
            ],
        }
    }
    by_hand = call(models, "embed", request("x", X))
    for model in ("mix", "head"):
        y = by_hand["outputs"][0]
        by_hand = call(models, model, {"inputs": [{**y, "name": "x"}]})
    with router(nodes, name="chain") as c:
        via_router = c.post("/v2/models/chain/infer", json=request("x", X))
    assert via_router.status_code == 200
    got, want = via_router.json()["outputs"][0], by_hand["outputs"][0]
    assert got["shape"] == want["shape"] == [1, 2]
    assert got["data"] == want["data"]
    # and the numbers are what numpy says the three layers compute
    assert np.asarray(got["data"]).shape == (2,)


def test_switch_picks_the_model_by_a_condition_on_the_input(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Switch",
            "steps": [
                {
                    "name": "pos",
                    "serviceUrl": infer_url(models, "embed"),
                    "condition": "inputs.0.data.0 > 0",
                },
                {
                    "name": "neg",
                    "serviceUrl": infer_url(models, "alt"),
                    "condition": "inputs.0.data.0 < 0",
                },
            ],
        }
    }
    with router(nodes) as c:
        positive = c.post("/", json=request("x", X))
        negative = c.post("/", json=request("x", [[-v for v in X[0]]]))
        zero = c.post("/", json=request("x", [[0.0] * 8]))
    assert positive.json()["model_name"] == negative.json()["model_name"] == "g"
    assert positive.json()["parameters"]["graph_steps"] == "root/pos"
    assert negative.json()["parameters"]["graph_steps"] == "root/neg"
    assert positive.json()["outputs"] == call(models, "embed", request("x", X))["outputs"]
    assert zero.status_code == 404 and zero.json()["step"] == "root"


def test_ensemble_runs_every_member_and_maps_their_answers(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "a", "serviceUrl": infer_url(models, "embed")},
                {"name": "b", "serviceUrl": infer_url(models, "alt")},
                {"name": "c", "serviceUrl": infer_url(models, "echo"), "dependency": "Hard"},
            ],
        }
    }
    body = request("x", X)
    with router(nodes, name="ens") as c:
        failed = c.post("/", json=body)
    # 'x' is not echo's input name: echo (Hard) fails, and its status is the graph's
    assert failed.status_code == 400
    assert failed.json()["step"] == "root/c"
    nodes["root"]["steps"][2]["dependency"] = "Soft"
    with router(nodes, name="ens") as c:
        mapped = c.post("/", json=body)
        as_v2 = c.post("/v2/models/ens/infer", json=body)
    assert mapped.status_code == 200
    assert mapped.json()["a"] == call(models, "embed", body)
    assert mapped.json()["b"] == call(models, "alt", body)
    assert mapped.json()["c"]["step"] == "root/c"
    assert mapped.headers["x-modelplane-soft-failures"] == "root/c"
    assert as_v2.json()["model_name"] == "ens"
    assert [o["name"] for o in as_v2.json()["outputs"]] == ["a.y", "b.y"]


def test_splitter_follows_the_seeded_weighted_choice(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Splitter",
            "steps": [
                {"serviceUrl": infer_url(models, "embed"), "weight": 30},
                {"serviceUrl": infer_url(models, "alt"), "weight": 70},
            ],
        }
    }
    graph = load({"name": "g", "nodes": nodes})
    expected_rng = random.Random(11)
    expected = [select_steps(graph.root, None, expected_rng)[0].label for _ in range(30)]
    with router(nodes, seed=11) as c:
        served = [
            c.post("/", json=request("x", X)).json()["parameters"]["graph_steps"] for _ in range(30)
        ]
    assert served == expected
    assert set(Counter(served)) == {"root/0", "root/1"}


def test_nested_nodes_and_a_sequence_condition_on_a_real_output(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "embed", "serviceUrl": infer_url(models, "embed")},
                {
                    "name": "rest",
                    "nodeName": "tail",
                    "data": "$response",
                    "condition": "outputs.@y.data.* > 1000000",
                },
            ],
        },
        "tail": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": infer_url(models, "mix"), "mapping": {"y": "x"}, "data": "$response"}
            ],
        },
    }
    with router(nodes) as c:
        stopped = c.post("/", json=request("x", X))
    assert stopped.status_code == 200
    assert stopped.json()["outputs"] == call(models, "embed", request("x", X))["outputs"]
    assert stopped.json()["parameters"]["graph_steps"] == "root/embed"
    nodes["root"]["steps"][1]["condition"] = "outputs.@y.data.* > -1000000"
    with router(nodes) as c:
        went_on = c.post("/", json=request("x", X))
    assert went_on.json()["model_name"] == "g"
    assert went_on.json()["parameters"]["graph_steps"] == "root/embed,tail/0"


def test_tritonclient_sees_the_graph_as_a_v2_model(models: RunningServer) -> None:
    import tritonclient.http as triton

    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": infer_url(models, "embed")},
                {
                    "serviceUrl": infer_url(models, "head"),
                    "data": "$response",
                    "mapping": {"y": "x"},
                },
            ],
        }
    }
    with router(nodes, name="pipeline") as c:
        host = str(c.base_url).removeprefix("http://").rstrip("/")
        client = triton.InferenceServerClient(url=host)
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("pipeline")
        x = triton.InferInput("x", [1, 8], "FP32")
        x.set_data_from_numpy(np.asarray(X, dtype=np.float32), binary_data=False)
        result = client.infer(
            "pipeline", [x], outputs=[triton.InferRequestedOutput("y", binary_data=False)]
        )
        client.close()
    by_hand = call(
        models,
        "head",
        {"inputs": [{**call(models, "embed", request("x", X))["outputs"][0], "name": "x"}]},
    )
    assert (
        result.as_numpy("y").tolist()
        == np.asarray(by_hand["outputs"][0]["data"], dtype=np.float32).reshape(1, 2).tolist()
    )


def test_binary_tensors_pass_through_a_switch_unchanged(models: RunningServer) -> None:
    import tritonclient.http as triton

    nodes = {
        "root": {
            "routerType": "Switch",
            "steps": [
                {"serviceUrl": infer_url(models, "embed"), "condition": "inputs.@x.shape.0 == 1"},
                {"serviceUrl": infer_url(models, "alt")},
            ],
        }
    }
    rows = np.asarray(X, dtype=np.float32)
    with router(nodes, name="bin") as c:
        client = triton.InferenceServerClient(
            url=str(c.base_url).removeprefix("http://").rstrip("/")
        )
        results = {}
        for batch in (rows, np.repeat(rows, 2, axis=0)):
            x = triton.InferInput("x", list(batch.shape), "FP32")
            x.set_data_from_numpy(batch, binary_data=True)
            out = triton.InferRequestedOutput("y", binary_data=True)
            results[batch.shape[0]] = client.infer("bin", [x], outputs=[out])
        client.close()
    one, two = results[1], results[2]
    # the Switch read the binary request's header; the answers are named for the graph
    assert one.get_response()["model_name"] == two.get_response()["model_name"] == "bin"
    assert one.get_response()["parameters"]["graph_steps"] == "root/0"
    assert two.get_response()["parameters"]["graph_steps"] == "root/1"
    direct = call(models, "embed", request("x", X))["outputs"][0]["data"]
    assert one.as_numpy("y").ravel().tolist() == np.asarray(direct, dtype=np.float32).tolist()


NON_FINITE = [[0.5, float("nan"), float("inf"), float("-inf"), 1.0, 2.0, 3.0, 4.0]]


def _same_floats(data: list[Any], rows: list[list[float]]) -> bool:
    """Equal element by element, NaN equal to NaN."""
    expected = np.array(rows, dtype=np.float32).ravel()
    return bool(np.array_equal(np.array(data, dtype=np.float32), expected, equal_nan=True))


def test_nan_and_infinities_pass_through_every_path_as_json_tokens(models: RunningServer) -> None:
    """The model server writes NaN, Infinity and -Infinity as bare JSON tokens (as Triton
    does); the router reads them, chains them (REST and gRPC steps), merges them in an
    Ensemble, and writes them back as the same tokens, never as null."""
    body = json.dumps(request("INPUT0", NON_FINITE)).encode()  # NaN, Infinity tokens
    assert b"NaN" in body
    chain = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "rest", "serviceUrl": infer_url(models, "echo")},
                {
                    "name": "grpc",
                    "serviceUrl": f"grpc://{models.grpc_target}/v2/models/echo",
                    "data": "$response",
                    "mapping": {"OUTPUT0": "INPUT0"},
                },
                {
                    "name": "again",
                    "serviceUrl": infer_url(models, "echo"),
                    "data": "$response",
                    "mapping": {"OUTPUT0": "INPUT0"},
                },
            ],
        }
    }
    ensemble = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "a", "serviceUrl": infer_url(models, "echo")},
                {"name": "b", "serviceUrl": f"grpc://{models.grpc_target}/v2/models/echo"},
            ],
        }
    }
    with router(chain, name="chain") as c:
        chained = c.post("/v2/models/chain/infer", content=body)
    with router(ensemble, name="ens") as c:
        merged = c.post("/", content=body)
    for answer in (chained, merged):
        assert answer.status_code == 200, answer.text
        assert b"NaN" in answer.content and b"-Infinity" in answer.content
        assert b"null" not in answer.content
    assert chained.json()["model_name"] == "chain"
    assert _same_floats(chained.json()["outputs"][0]["data"], NON_FINITE)
    assert _same_floats(merged.json()["a"]["outputs"][0]["data"], NON_FINITE)
    assert _same_floats(merged.json()["b"]["outputs"][0]["data"], NON_FINITE)
