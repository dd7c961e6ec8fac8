"""The tensor types JSON needs care with, through a graph whose answers the router decodes into
JSON (an Ensemble's merge, a JSON client of binary or gRPC steps):

- BYTES that are not UTF-8: intact wherever the answer's form carries bytes (binary data,
  gRPC), an Ensemble's merged answer included, and refused, never mangled, where JSON must
  carry them (before, a gRPC step's answer was decoded with U+FFFD in their place, and an
  Ensemble, which merged as JSON, refused them in every form);
- BF16: JSON float32 numbers, as the model server writes them, and back to the same bits
  (before, an Ensemble of BF16 models answered 500);
- JSON data its datatype cannot hold (1.5 for INT32): refused with 400 by whichever reads it,
  the router for a gRPC step or the model server for a REST one, never cut to 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.graphs import grpc_url, rest_url
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_identity, python_model

pytestmark = pytest.mark.usefixtures("both_edges")  # each test through both HTTP edges

RAW = [b"\xff\xfeok", "é".encode()]
SOURCE = f"""
    import numpy as np


    class Model:
        def predict(self, inputs):
            return {{"out": np.array({RAW!r}, dtype=object)}}
"""
BODY = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """raw (BYTES that are not UTF-8), half (a BF16 identity), ints (an INT32 identity)."""
    root: Path = tmp_path_factory.mktemp("tensor-type-models")
    python_model(root / "raw", SOURCE)
    onnx_identity(root / "half" / "model.onnx", "BF16")
    onnx_identity(root / "ints" / "model.onnx", "INT32")
    with server_in_thread(model_repository=root) as running:
        yield running


def _router(server: RunningServer, url: Any, kind: str) -> Any:
    nodes = {
        "root": {"routerType": kind, "steps": [{"name": "a", "serviceUrl": url(server, "raw")}]}
    }
    return serve_router(RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings()))


@pytest.mark.parametrize("kind", ["Sequence", "Ensemble"])
def test_json_cannot_carry_them_so_the_answer_says_so(server: RunningServer, kind: str) -> None:
    with _router(server, grpc_url, kind) as (base, _):
        answer = httpx.post(f"{base}/v2/models/g/infer", json=BODY, timeout=30)
    assert answer.status_code == 500
    assert answer.json()["error"] == "the graph's answer cannot be written as asked"
    assert "out' holds bytes that are not UTF-8" in answer.json()["cause"]  # a.out for an Ensemble
    assert "ask for it as binary data" in answer.json()["cause"]


def _binary_and_grpc(target: str, base: str, name: str) -> tuple[Any, Any]:
    """The graph asked for `name` as binary data over HTTP, and over gRPC."""
    http = thttp.InferenceServerClient(base.removeprefix("http://"))
    tensor = thttp.InferInput("x", [1], "FP32")
    tensor.set_data_from_numpy(np.ones(1, np.float32))
    binary = http.infer("g", [tensor], outputs=[thttp.InferRequestedOutput(name, True)])
    grpc = tgrpc.InferenceServerClient(target)
    gtensor = tgrpc.InferInput("x", [1], "FP32")
    gtensor.set_data_from_numpy(np.ones(1, np.float32))
    return binary, grpc.infer("g", [gtensor])


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-step", "rest-step"])
def test_a_sequence_carries_them_intact_as_binary_data_and_over_grpc(
    server: RunningServer, url: Any
) -> None:
    with _router(server, url, "Sequence") as (base, target):
        binary, over_grpc = _binary_and_grpc(target, base, "out")
    assert list(binary.as_numpy("out")) == RAW
    assert list(over_grpc.as_numpy("out")) == RAW


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-step", "rest-step"])
def test_an_ensemble_carries_them_intact_as_binary_data_and_over_grpc(
    server: RunningServer, url: Any
) -> None:
    with _router(server, url, "Ensemble") as (base, target):
        binary, over_grpc = _binary_and_grpc(target, base, "a.out")
    assert list(binary.as_numpy("a.out")) == RAW
    assert list(over_grpc.as_numpy("a.out")) == RAW
    assert over_grpc.get_response().model_name == "g"


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-steps", "rest-steps"])
def test_an_ensemble_of_bf16_models_answers_their_bits(server: RunningServer, url: Any) -> None:
    import ml_dtypes

    x = np.asarray([[0.1, -2.5, 3e38]], np.float32).astype(ml_dtypes.bfloat16)
    steps = [{"name": n, "serviceUrl": url(server, "half")} for n in ("a", "b")]
    nodes = {"root": {"routerType": "Ensemble", "steps": steps}}
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings())
    with serve_router(app) as (base, _):
        http = thttp.InferenceServerClient(base.removeprefix("http://"))
        tensor = thttp.InferInput("INPUT0", [1, 3], "BF16")
        tensor.set_data_from_numpy(x, binary_data=True)
        outputs = [
            thttp.InferRequestedOutput(n, binary_data=True) for n in ("a.OUTPUT0", "b.OUTPUT0")
        ]
        answer = http.infer("g", [tensor], outputs=outputs)
    for name in ("a.OUTPUT0", "b.OUTPUT0"):
        assert answer.as_numpy(name).tobytes() == x.tobytes()


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-step", "rest-step"])
def test_json_data_its_datatype_cannot_hold_is_refused_not_cut(
    server: RunningServer, url: Any
) -> None:
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url(server, "ints")}]}}
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings())
    body = {"inputs": [{"name": "INPUT0", "shape": [1, 3], "datatype": "INT32"}]}
    with serve_router(app) as (base, _):
        whole = httpx.post(f"{base}/v2/models/g/infer", json=_with(body, [1, 2, 3]), timeout=30)
        cut = httpx.post(f"{base}/v2/models/g/infer", json=_with(body, [1, 2, 1.5]), timeout=30)
    assert whole.status_code == 200, whole.text
    assert whole.json()["outputs"][0]["data"] == [1, 2, 3]
    assert cut.status_code == 400, cut.text
    assert "data is not INT32: 1.5 is not an integer" in cut.text


def _with(body: dict[str, Any], data: list[Any]) -> dict[str, Any]:
    return {"inputs": [{**body["inputs"][0], "data": data}]}
