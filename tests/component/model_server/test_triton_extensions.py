"""Triton's model-configuration and statistics extensions, read by tritonclient over HTTP and gRPC."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
import yaml
from tritonclient.utils import InferenceServerException

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("repo")
    onnx_add_sub(root / "simple" / "model.onnx", "INT32", 16)
    onnx_add_sub(root / "batched" / "1" / "model.onnx", "INT32", 16)
    (root / "batched" / "model.yaml").write_text(
        yaml.safe_dump(
            {
                "max_batch_size": 8,
                "batching": {
                    "max_queue_delay_us": 100,
                    "preferred_batch_sizes": [4, 8],
                    "max_queue_size": 64,
                },
                "instances": 2,
                "device": "cpu",
            }
        )
    )
    with server_in_thread(model_repository=root) as running:
        yield running


def _infer_http(running: RunningServer, model: str) -> None:
    client = thttp.InferenceServerClient(running.http_target)
    a = np.arange(16, dtype=np.int32).reshape(1, 16)
    inputs = [thttp.InferInput(n, [1, 16], "INT32") for n in ("INPUT0", "INPUT1")]
    for item in inputs:
        item.set_data_from_numpy(a)
    result = client.infer(model, inputs)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a + a)


def test_config_of_an_unbatched_model_keeps_the_batch_dimension(server: RunningServer) -> None:
    config = thttp.InferenceServerClient(server.http_target).get_model_config("simple")
    assert config["name"] == "simple"
    assert config["platform"] == "onnxruntime_onnx"
    assert config["backend"] == "onnxruntime"
    assert config["max_batch_size"] == 0
    assert [(t["name"], t["data_type"], t["dims"]) for t in config["input"]] == [
        ("INPUT0", "TYPE_INT32", [-1, 16]),
        ("INPUT1", "TYPE_INT32", [-1, 16]),
    ]
    assert "dynamic_batching" not in config


def test_config_of_a_batched_model_over_http_and_grpc_agree(server: RunningServer) -> None:
    rest = thttp.InferenceServerClient(server.http_target).get_model_config("batched", "1")
    assert rest["max_batch_size"] == 8
    assert rest["output"][1] == {"name": "OUTPUT1", "data_type": "TYPE_INT32", "dims": [16]}
    assert rest["dynamic_batching"] == {
        "preferred_batch_size": [4, 8],
        "max_queue_delay_microseconds": 100,
        "default_queue_policy": {"max_queue_size": 64},
    }
    assert rest["instance_group"] == [{"name": "batched_0", "kind": "KIND_CPU", "count": 2}]
    reply = tgrpc.InferenceServerClient(server.grpc_target).get_model_config("batched", "1")
    config = reply.config
    assert config.max_batch_size == 8
    assert list(config.input[0].dims) == [16]
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8]
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert config.instance_group[0].count == 2
    as_json = tgrpc.InferenceServerClient(server.grpc_target).get_model_config(
        "batched", as_json=True
    )["config"]
    assert as_json["input"][0]["data_type"] == "TYPE_INT32"


def test_config_of_an_unknown_model_is_not_found(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/v2/models/nope/config").status_code == 404
    with pytest.raises(InferenceServerException, match="nope"):
        tgrpc.InferenceServerClient(server.grpc_target).get_model_config("nope")


def test_statistics_count_what_the_metrics_count(server: RunningServer) -> None:
    before = time.time()
    for _ in range(3):
        _infer_http(server, "simple")
    bad = {"inputs": [{"name": "INPUT0", "shape": [1, 2], "datatype": "INT32", "data": [1]}]}
    assert httpx.post(f"{server.url}/v2/models/simple/infer", json=bad).status_code == 400
    stats = thttp.InferenceServerClient(server.http_target).get_inference_statistics("simple")
    (entry,) = stats["model_stats"]
    assert (entry["name"], entry["version"]) == ("simple", "1")
    assert entry["inference_count"] == 3
    assert entry["execution_count"] == 3
    assert before * 1000 <= entry["last_inference"] <= time.time() * 1000
    infer = entry["inference_stats"]
    assert infer["success"]["count"] == 3 and infer["success"]["ns"] > 0
    assert infer["fail"]["count"] == 1
    assert infer["compute_infer"]["count"] == 3 and infer["compute_infer"]["ns"] > 0
    assert infer["compute_input"]["count"] == 3  # recorded with infer and output, on success
    assert infer["compute_output"]["count"] == 3
    assert infer["queue"]["count"] == 3  # every executed request passes the queue, as in Triton
    (batch,) = entry["batch_stats"]
    assert (batch["batch_size"], batch["compute_infer"]["count"]) == (1, 3)
    assert batch["compute_infer"]["ns"] > 0
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'modelplane_inferences_total{model="simple",version="1"} 3.0' in metrics
    grpc_stats = tgrpc.InferenceServerClient(server.grpc_target).get_inference_statistics(
        "simple", as_json=True
    )
    grpc_entry = grpc_stats["model_stats"][0]
    assert int(grpc_entry["inference_count"]) >= 3
    assert int(grpc_entry["inference_stats"]["success"]["count"]) >= 3


def test_statistics_of_every_model_list_each_loaded_version(server: RunningServer) -> None:
    stats = thttp.InferenceServerClient(server.http_target).get_inference_statistics()
    assert {(s["name"], s["version"]) for s in stats["model_stats"]} == {
        ("simple", "1"),
        ("batched", "1"),
    }
    reply = tgrpc.InferenceServerClient(server.grpc_target).get_inference_statistics()
    assert {(s.name, s.version) for s in reply.model_stats} == {("simple", "1"), ("batched", "1")}
    assert httpx.get(f"{server.url}/v2/models/simple/versions/9/stats").status_code == 404


def test_server_metadata_names_both_extensions(server: RunningServer) -> None:
    extensions = thttp.InferenceServerClient(server.http_target).get_server_metadata()["extensions"]
    assert {"model_configuration", "statistics"} <= set(extensions)
