"""Triton's load with a `config` parameter: applied when we can honour it, else 400 naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub

TENSORS = {
    "input": [
        {"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [16]},
        {"name": "INPUT1", "data_type": "TYPE_INT32", "dims": [16]},
    ],
    "output": [
        {"name": "OUTPUT0", "data_type": "TYPE_INT32", "dims": [16]},
        {"name": "OUTPUT1", "data_type": "TYPE_INT32", "dims": [16]},
    ],
}
BATCHED = {
    "max_batch_size": 8,
    **TENSORS,
    "dynamic_batching": {
        "preferred_batch_size": [4, 8],
        "max_queue_delay_microseconds": 200,
        "default_queue_policy": {"max_queue_size": 32, "default_timeout_microseconds": 2000000},
    },
    "instance_group": [{"kind": "KIND_CPU", "count": 2}],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("repo")
    onnx_add_sub(root / "simple" / "model.onnx", "INT32", 16)
    with server_in_thread(model_repository=root) as running:
        yield running


def _load(server: RunningServer, config: Any) -> httpx.Response:
    body = {"parameters": {"config": config if isinstance(config, str) else json.dumps(config)}}
    return httpx.post(f"{server.url}/v2/repository/models/simple/load", json=body, timeout=30)


def _infer_rows(server: RunningServer, rows: int) -> np.ndarray:
    client = thttp.InferenceServerClient(server.http_target)
    a = np.arange(rows * 16, dtype=np.int32).reshape(rows, 16)
    inputs = [thttp.InferInput(n, [rows, 16], "INT32") for n in ("INPUT0", "INPUT1")]
    for item in inputs:
        item.set_data_from_numpy(a)
    out = client.infer("simple", inputs).as_numpy("OUTPUT0")
    np.testing.assert_array_equal(out, a + a)
    return out


def test_a_config_on_load_is_applied_and_a_plain_load_restores_model_yaml(
    server: RunningServer,
) -> None:
    http = thttp.InferenceServerClient(server.http_target)
    http.load_model("simple", config=json.dumps(BATCHED))
    config = http.get_model_config("simple")
    assert config["max_batch_size"] == 8
    assert config["input"][0]["dims"] == [16]
    assert config["dynamic_batching"] == BATCHED["dynamic_batching"]
    assert config["instance_group"] == [{"name": "simple_0", "kind": "KIND_CPU", "count": 2}]
    before = http.get_inference_statistics("simple")["model_stats"][0]
    _infer_rows(server, 3)
    after = http.get_inference_statistics("simple")["model_stats"][0]
    # Batched now: three rows are three inferences in one execution.
    assert after["inference_count"] - before["inference_count"] == 3
    assert after["execution_count"] - before["execution_count"] == 1
    sizes = {b["batch_size"]: b["compute_infer"]["count"] for b in after["batch_stats"]}
    assert sizes.get(3) == 1
    http.load_model("simple")
    config = http.get_model_config("simple")
    assert config["max_batch_size"] == 0
    assert "dynamic_batching" not in config
    assert config["instance_group"][0]["count"] == 1


def test_grpc_load_with_config_and_a_round_trip_of_our_own_config(server: RunningServer) -> None:
    client = tgrpc.InferenceServerClient(server.grpc_target)
    client.load_model("simple", config=json.dumps({"max_batch_size": 4, **TENSORS}))
    assert client.get_model_config("simple").config.max_batch_size == 4
    _infer_rows(server, 2)
    # What the server says its config is can be given back to it unchanged.
    own = thttp.InferenceServerClient(server.http_target).get_model_config("simple")
    client.load_model("simple", config=json.dumps(own))
    assert client.get_model_config("simple", as_json=True)["config"]["max_batch_size"] == 4
    client.load_model("simple")
    assert client.get_model_config("simple").config.max_batch_size == 0


# (case, config as sent, words the 400 must contain)
REFUSED: list[tuple[str, Any, str]] = [
    ("not JSON", "{max_batch_size: 8", "parameters.config: not valid JSON"),
    ("not an object", "[1, 2]", "expected a JSON object"),
    ("field we do not have", {"sequence_batching": {}}, "parameters.config.sequence_batching: not supported"),
    ("ensemble scheduling", {"ensemble_scheduling": {"step": []}}, "parameters.config.ensemble_scheduling"),
    ("another model's name", {"name": "other"}, "parameters.config.name"),
    ("negative batch size", {"max_batch_size": -1}, "parameters.config.max_batch_size"),
    ("batching without batch size", {"dynamic_batching": {}}, "needs max_batch_size > 0"),
    ("batcher option we lack", {"max_batch_size": 4, "dynamic_batching": {"priority_levels": 2}}, "dynamic_batching.priority_levels"),
    ("two instance groups", {"instance_group": [{"count": 1}, {"count": 1}]}, "only one group"),
    ("instances on named GPUs", {"instance_group": [{"count": 1, "gpus": [0]}]}, "instance_group[0].gpus"),
    ("KIND_MODEL", {"instance_group": [{"kind": "KIND_MODEL"}]}, "instance_group[0].kind"),
    ("zero instances", {"instance_group": [{"count": 0}]}, "instance_group[0].count"),
    ("unknown platform", {"platform": "tensorrt_plan"}, "tensorrt_plan"),
    ("backend and platform disagree", {"platform": "onnxruntime_onnx", "backend": "python"}, "disagree"),
    ("dims not integers", {**TENSORS, "max_batch_size": 4, "input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [16.0]}]}, "input[0].dims"),
    ("tensor option we lack", {"input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [-1, 16], "reshape": {"shape": [16]}}]}, "input[0].reshape"),
    ("parameter not a string_value", {"parameters": {"intra_op_threads": 2}}, "parameters.intra_op_threads"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "config", "words"), REFUSED, ids=[c[0] for c in REFUSED])
def test_a_config_we_cannot_honour_is_refused_naming_the_field(
    server: RunningServer, case: str, config: Any, words: str
) -> None:
    answer = _load(server, config)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]
    assert thttp.InferenceServerClient(server.http_target).is_model_ready("simple")


def test_declared_tensors_must_be_the_models_own(server: RunningServer) -> None:
    wrong = {"input": [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [-1, 16]}]}
    answer = _load(server, wrong)
    assert answer.status_code == 400
    assert "declared input 'INPUT0' is FP32, the model's is INT32" in answer.json()["error"]
    answer = _load(
        server, {"input": [{"name": "INPUT0", "data_type": "TYPE_INT32", "dims": [-1, 8]}]}
    )
    assert answer.status_code == 400
    assert "shape [-1, 8]" in answer.json()["error"]
    _infer_rows(server, 1)  # the previous load keeps serving


def test_other_load_parameters_are_refused_over_both_transports(server: RunningServer) -> None:
    answer = httpx.post(
        f"{server.url}/v2/repository/models/simple/load",
        json={"parameters": {"file:1/model.onnx": "AAAA"}},
    )
    assert answer.status_code == 400
    assert "parameters.file:1/model.onnx" in answer.json()["error"]
    answer = httpx.post(
        f"{server.url}/v2/repository/models/simple/load", json={"parameters": {"config": 8}}
    )
    assert answer.status_code == 400
    assert "expected a string" in answer.json()["error"]
    with pytest.raises(tgrpc.InferenceServerException) as caught:
        tgrpc.InferenceServerClient(server.grpc_target).load_model(
            "simple", config=json.dumps({"sequence_batching": {}})
        )
    assert caught.value.status() == str(grpc.StatusCode.INVALID_ARGUMENT)
    assert "sequence_batching" in str(caught.value)
