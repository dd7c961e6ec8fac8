"""A graph as one V2 model, against real `modelplane serve` servers and ONNX models: its
metadata and configuration read from its steps' models, outputs asked of it answered by the
model that has them, and Triton's perf_analyzer measuring it as it measures a model."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.graphs import (
    X,
    by_hand,
    chain,
    ensemble,
    grpc_url,
    rest_url,
    scored,
    switch,
)
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer

pytestmark = pytest.mark.usefixtures("both_edges")  # each test through both HTTP edges


@pytest.mark.parametrize("url", [rest_url, grpc_url], ids=["rest-steps", "grpc-steps"])
def test_a_graph_describes_itself_as_one_model(models: RunningServer, url: Any) -> None:
    """Its metadata and configuration come from its steps' models (the first step's inputs,
    the last step's outputs), over gRPC and REST, whatever protocol its steps speak."""
    import tritonclient.grpc as tg

    app = RouterApp(load({"name": "chain", "nodes": chain(models, url)}), RouterSettings())
    with serve_router(app) as (base, target):
        client = tg.InferenceServerClient(target)
        try:
            meta = client.get_model_metadata("chain", as_json=True)
            config = client.get_model_config("chain", as_json=True)["config"]
        finally:
            client.close()
        rest_meta = httpx.get(f"{base}/v2/models/chain", timeout=30).json()
        rest_config = httpx.get(f"{base}/v2/models/chain/config", timeout=30).json()
    embed = httpx.get(f"{models.url}/v2/models/embed", timeout=30).json()
    head = httpx.get(f"{models.url}/v2/models/head", timeout=30).json()
    # shapes are numbers, as the models' own metadata writes them (read from a gRPC step,
    # protobuf's JSON mapping had made them strings: ["-1", "8"])
    assert rest_meta["inputs"][0]["shape"] == embed["inputs"][0]["shape"]
    assert rest_meta["outputs"][0]["shape"] == head["outputs"][0]["shape"]
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [("x", "FP32")]
    assert [o["name"] for o in meta["outputs"]] == ["y"]
    assert meta["platform"] == "modelplane-inference-graph"
    assert [i["name"] for i in rest_meta["inputs"]] == ["x"]
    assert [o["name"] for o in rest_meta["outputs"]] == ["y"]
    assert config["name"] == "chain"
    assert [i["name"] for i in config["input"]] == ["x"]
    assert [o["name"] for o in config["output"]] == ["y"]
    assert rest_config["input"][0]["data_type"] == "TYPE_FP32"


@pytest.mark.parametrize("protocol", ["grpc", "http", "grpc-streaming"])
@pytest.mark.parametrize("nodes", ["sequence", "ensemble", "switch"])
def test_perf_analyzer_measures_a_graph_as_it_measures_a_model(
    models: RunningServer, protocol: str, nodes: str
) -> None:
    """Triton's perf_analyzer, unmodified, reads the graph's metadata and configuration and
    measures it (before, it stopped: "failed to get model config"); it asks for every
    output by name, so each node type must answer the names its metadata gives."""
    from benchmarks import perf_analyzer

    exe = perf_analyzer.binary()
    if exe is None:
        pytest.skip("perf_analyzer is not installed: run `make perf-analyzer` (make test does)")
    graph = {"sequence": scored, "ensemble": ensemble, "switch": switch}[nodes]
    app = RouterApp(load({"name": "chain", "nodes": graph(models, rest_url)}), RouterSettings())
    with serve_router(app) as (base, target):
        where = base.removeprefix("http://") if protocol == "http" else target
        cell = perf_analyzer.run(exe, where, protocol.removesuffix("-streaming"), "chain", 1,
                                 {"x": [1, 8]}, requests=30, timeout=120,
                                 streaming=protocol.endswith("-streaming"))  # fmt: skip
    assert cell.rps > 0 and 0 < cell.p50_ms <= cell.p99_ms


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("url", [rest_url, grpc_url], ids=["rest-steps", "grpc-steps"])
def test_outputs_asked_of_a_sequence_are_its_last_steps(
    models: RunningServer, url: Any, protocol: str
) -> None:
    """tritonclient asks for the graph's output by name (binary over HTTP): the last model
    answers it, bit for bit as the hand calls; the models before it answer whole (asked for
    `score`, the first model would refuse: it has no such output)."""
    import tritonclient.grpc as tg
    import tritonclient.http as th

    module: Any = tg if protocol == "grpc" else th
    app = RouterApp(load({"name": "scored", "nodes": scored(models, url)}), RouterSettings())
    with serve_router(app) as (base, target):
        client = module.InferenceServerClient(
            target if protocol == "grpc" else base.removeprefix("http://")
        )
        try:
            tensor = module.InferInput("x", list(X.shape), "FP32")
            tensor.set_data_from_numpy(X)
            asked = (
                [tg.InferRequestedOutput("score")]
                if protocol == "grpc"
                else [th.InferRequestedOutput("score", binary_data=True)]
            )
            result = client.infer("scored", [tensor], outputs=asked)
        finally:
            client.close()
    expected = by_hand(models, "score", by_hand(models, "embed", X), ("y", "score"))
    assert result.as_numpy("score").tobytes() == expected.tobytes()
    response = result.get_response()
    assert (response["model_name"] if protocol == "http" else response.model_name) == "scored"
