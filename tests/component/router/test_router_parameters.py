"""The client's request parameters reach every step of a Sequence, as Triton's ensembles
forward theirs to each composing model: a step fed the previous step's answer gets them too,
in each form the chain travels in (JSON, binary tensors, gRPC), through each HTTP edge; all but
`binary_data_output`, which asks for the graph's answer in a form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as thttp

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.graphs import grpc_url, rest_url
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import python_model

pytestmark = pytest.mark.usefixtures("both_edges")

SEEN = """
    import json

    import numpy as np

    from modelplane.model_server.protocol.codec import decode_input
    from modelplane.model_server.protocol.types import InferenceRequest


    class Model:
        def predict(self, request: InferenceRequest):
            x = next(decode_input(i) for i in request.inputs if i.name == "x")
            seen = json.dumps(request.parameters or {}, sort_keys=True)
            return {"x": x, "seen": np.array([seen], dtype=object)}
"""
ASKED = {"temperature": 0.5, "tag": "a", "binary_data_output": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """seen: answers its input x and the request parameters it was given, as JSON text."""
    root: Path = tmp_path_factory.mktemp("parameter-models")
    python_model(root / "seen", SEEN)
    with server_in_thread(model_repository=root) as running:
        yield running


def _app(server: RunningServer, url: Any) -> RouterApp:
    steps = [{"serviceUrl": url(server, "seen")}, {"serviceUrl": url(server, "seen"), "data": "$response"}]  # fmt: skip
    nodes = {"root": {"routerType": "Sequence", "steps": steps}}
    return RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings())


@pytest.mark.parametrize("url", [rest_url, grpc_url], ids=["rest-steps", "grpc-steps"])
def test_the_last_step_sees_the_clients_parameters_over_json(
    server: RunningServer, url: Any
) -> None:
    body = {"parameters": ASKED,
            "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [2.0]}]}  # fmt: skip
    with serve_router(_app(server, url)) as (base, _):
        answer = httpx.post(f"{base}/v2/models/g/infer", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o["data"] for o in answer.json()["outputs"]}
    assert json.loads(outputs["seen"][0]) == {"tag": "a", "temperature": 0.5}
    assert outputs["x"] == [2.0]


@pytest.mark.parametrize("url", [rest_url, grpc_url], ids=["rest-steps", "grpc-steps"])
def test_and_over_binary_tensors(server: RunningServer, url: Any) -> None:
    with serve_router(_app(server, url)) as (base, _):
        client = thttp.InferenceServerClient(base.removeprefix("http://"))
        x = thttp.InferInput("x", [1], "FP32")
        x.set_data_from_numpy(np.array([2.0], np.float32), binary_data=True)
        outputs = [thttp.InferRequestedOutput(n, binary_data=True) for n in ("x", "seen")]
        answer = client.infer("g", [x], outputs=outputs, parameters={"temperature": 0.5})
    seen = json.loads(answer.as_numpy("seen")[0])
    assert seen.pop("binary_data_output", True) is True  # the router's own ask, over REST
    assert seen == {"temperature": 0.5}
    assert answer.as_numpy("x").tolist() == [2.0]
