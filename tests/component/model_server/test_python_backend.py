"""Python backend: a user class in model.py with load() and predict(), served over V2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as thttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import python_model, write_model_yaml

SCALER = """
    from pathlib import Path

    import numpy as np


    class Model:
        def __init__(self, model_dir: Path) -> None:
            self.model_dir = model_dir
            self.factor = 0.0

        def load(self) -> None:
            self.factor = float((self.model_dir / "factor.txt").read_text())

        def predict(self, inputs):
            words = [w.decode().upper() for w in inputs["words"].reshape(-1)]
            return {"scaled": inputs["x"] * self.factor, "shout": np.array(words, dtype=object)}
"""

BROKEN_LOAD = """
    class Model:
        def load(self):
            raise RuntimeError("weights are missing")

        def predict(self, inputs):
            return inputs
"""

REQUEST_MODE = """
    import numpy as np

    from modelplane.model_server.protocol.codec import decode_input
    from modelplane.model_server.protocol.types import InferenceRequest


    class Model:
        def predict(self, request: InferenceRequest):
            scale = (request.parameters or {}).get("scale", 1)
            total = sum(decode_input(inp).astype(np.float64).sum() for inp in request.inputs)
            return {"total": np.array([total * scale]), "count": np.array([len(request.inputs)])}
"""

ASYNC_PREDICT = """
    import asyncio


    class Model:
        async def predict(self, inputs):
            await asyncio.sleep(0)
            return {"y": inputs["x"] * 3}
"""

FAILS_PREDICT = """
    class Echo:
        def predict(self, inputs):
            raise ValueError("cannot handle this")
"""


@pytest.fixture(scope="module")
def python_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("py-repo")
    python_model(root / "scaler", SCALER)
    (root / "scaler" / "factor.txt").write_text("2.5")
    write_model_yaml(
        root / "scaler",
        backend="python",
        inputs=[
            {"name": "x", "datatype": "FP32", "shape": [-1]},
            {"name": "words", "datatype": "BYTES", "shape": [-1]},
        ],
        outputs=[
            {"name": "scaled", "datatype": "FP32", "shape": [-1]},
            {"name": "shout", "datatype": "BYTES", "shape": [-1]},
        ],
    )
    python_model(root / "broken", BROKEN_LOAD)
    python_model(root / "fails", FAILS_PREDICT)
    python_model(root / "whole_request", REQUEST_MODE)
    python_model(root / "whole_request_declared", REQUEST_MODE)
    write_model_yaml(
        root / "whole_request_declared",
        backend="python",
        inputs=[{"name": "a", "datatype": "INT32", "shape": [-1]}],
    )
    python_model(root / "async_predict", ASYNC_PREDICT)
    with server_in_thread(model_repository=root) as running:
        yield running


def test_user_class_loads_and_predicts(python_server: RunningServer) -> None:
    client = thttp.InferenceServerClient(python_server.http_target)
    x = thttp.InferInput("x", [3], "FP32")
    x.set_data_from_numpy(np.array([1, 2, 3], np.float32), binary_data=False)
    words = thttp.InferInput("words", [2], "BYTES")
    words.set_data_from_numpy(np.array([b"hi", b"there"], dtype=object))
    result = client.infer("scaler", [x, words])
    np.testing.assert_array_equal(result.as_numpy("scaled"), [2.5, 5.0, 7.5])
    assert result.as_numpy("shout").tolist() == [b"HI", b"THERE"]


def test_declared_inputs_are_checked(python_server: RunningServer) -> None:
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1]}]}
    response = httpx.post(f"{python_server.url}/v2/models/scaler/infer", json=body, timeout=10)
    assert response.status_code == 400
    assert "datatype INT32 does not match the model's FP32" in response.json()["error"]


def test_failing_load_is_in_the_index_with_its_reason(python_server: RunningServer) -> None:
    index = {
        m["name"]: m
        for m in thttp.InferenceServerClient(python_server.http_target).get_model_repository_index()
    }
    assert index["broken"]["state"] == "UNAVAILABLE"
    assert "RuntimeError: weights are missing" in index["broken"]["reason"]
    assert index["scaler"]["state"] == "READY"
    assert httpx.get(f"{python_server.url}/v2/health/ready", timeout=5).status_code == 503


def test_predict_error_is_a_500_naming_the_model(python_server: RunningServer) -> None:
    body = {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}]}
    response = httpx.post(f"{python_server.url}/v2/models/fails/infer", json=body, timeout=10)
    assert response.status_code == 500
    assert response.json()["error"] == "model 'fails' failed: ValueError: cannot handle this"


def test_predict_can_take_the_whole_v2_request(python_server: RunningServer) -> None:
    body = {
        "parameters": {"scale": 10},
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "INT32", "data": [1, 2]},
            {"name": "b", "shape": [1], "datatype": "FP32", "data": [0.5]},
        ],
    }
    response = httpx.post(
        f"{python_server.url}/v2/models/whole_request/infer", json=body, timeout=10
    )
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    assert outputs == {"total": [35.0], "count": [2]}


def executions(server: RunningServer, model: str) -> float:
    """The model's backend executions so far, from /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "modelplane_inference_executions_total"
        and sample.labels["model"] == model
    )


def test_whole_request_models_run_through_the_runner_and_are_metered(
    python_server: RunningServer,
) -> None:
    before = executions(python_server, "whole_request")
    body = {"inputs": [{"name": "a", "shape": [2], "datatype": "INT32", "data": [1, 2]}]}
    for _ in range(3):
        response = httpx.post(
            f"{python_server.url}/v2/models/whole_request/infer", json=body, timeout=10
        )
        assert response.status_code == 200, response.text
    assert executions(python_server, "whole_request") == before + 3


def test_whole_request_models_have_their_declared_inputs_checked(
    python_server: RunningServer,
) -> None:
    url = f"{python_server.url}/v2/models/whole_request_declared/infer"
    good = {"inputs": [{"name": "a", "shape": [2], "datatype": "INT32", "data": [1, 2]}]}
    bad = {"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [0.5]}]}
    assert httpx.post(url, json=good, timeout=10).json()["outputs"][0]["data"] == [3.0]
    response = httpx.post(url, json=bad, timeout=10)
    assert response.status_code == 400
    assert "datatype FP32 does not match the model's INT32" in response.json()["error"]


def test_async_predict_is_awaited(python_server: RunningServer) -> None:
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "INT32", "data": [1, 2]}]}
    response = httpx.post(
        f"{python_server.url}/v2/models/async_predict/infer", json=body, timeout=10
    )
    assert response.json()["outputs"][0]["data"] == [3, 6]


def test_single_model_form_with_backend_flag(tmp_path: Path) -> None:
    python_model(
        tmp_path / "m",
        "class Model:\n    def predict(self, inputs):\n        return {'y': inputs['x'] + 1}\n",
    )
    with server_in_thread(
        model_name="plus1", model_dir=tmp_path / "m", backend="python"
    ) as running:
        body = {"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [1, 2]}]}
        response = httpx.post(f"{running.url}/v2/models/plus1/infer", json=body, timeout=10)
    assert response.json()["outputs"] == [
        {"name": "y", "datatype": "INT64", "shape": [2], "data": [2, 3]}
    ]
