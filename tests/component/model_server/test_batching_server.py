"""Dynamic batching, instances and metrics through a real server on 127.0.0.1 with a real ONNX model."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelplane.model_server.backends.base import Backend, Tensors
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.metrics import ModelMeter
from modelplane.model_server.runners.base import Runner
from modelplane.model_server.runners.factory import make_runner
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub, write_model_yaml
from tests.support.ports import free_port

SLOW_S = 0.3  # per execution: long enough that concurrent requests queue behind it


class SlowBackend:
    """The real ONNX backend, made slow: stands in for a heavy model (runs on a model thread)."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.platform = inner.platform
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0  # most executions seen running at once

    def load(self) -> None:
        self._inner.load()

    def signature(self) -> Any:
        return self._inner.signature()

    def infer(self, inputs: Tensors) -> Tensors:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(SLOW_S)
        with self._lock:
            self.running -= 1
        return self._inner.infer(inputs)

    def unload(self) -> None:
        self._inner.unload()


SLOW_BACKENDS: list[SlowBackend] = []


def slow_runner(backend: Backend, config: ModelConfig, meter: ModelMeter | None) -> Runner:
    slow = SlowBackend(backend)
    SLOW_BACKENDS.append(slow)
    return make_runner(slow, config, meter)


def body(row: list[float]) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": row},
            {"name": "INPUT1", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]},
        ],
        "outputs": [{"name": "OUTPUT0"}],
    }


async def fire(url: str, count: int) -> list[httpx.Response]:
    """`count` concurrent one-row requests, request i carrying [i, i, i, i]."""
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(
            *(client.post(url, json=body([float(i)] * 4)) for i in range(count))
        )


def scrape(running: RunningServer, port: int | None = None) -> dict[str, float]:
    """Metric samples summed over all labels except model and outcome/state."""
    text = httpx.get(f"http://127.0.0.1:{port or running.http_port}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + "".join(
                f":{s.labels[k]}" for k in ("protocol", "outcome", "state") if k in s.labels
            )
            found[key] = found.get(key, 0.0) + s.value
    return found


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    onnx_add_sub(tmp_path / "adder" / "model.onnx")
    return tmp_path


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(repo: Path) -> None:
    with server_in_thread(slow_runner, model_repository=repo, max_batch_size=16) as running:
        url = f"{running.url}/v2/models/adder/infer"
        answers = asyncio.run(fire(url, 12))
        assert [a.status_code for a in answers] == [200] * 12
        for i, answer in enumerate(answers):
            (output,) = answer.json()["outputs"]
            assert output["shape"] == [1, 4]
            assert output["data"] == [i + 1.0] * 4
        got = scrape(running)
    assert got["modelplane_inferences_total"] == 12
    assert got["modelplane_inference_executions_total"] < 12  # some requests shared a batch
    assert (
        got["modelplane_inference_batch_size_count"] == got["modelplane_inference_executions_total"]
    )
    assert got["modelplane_inference_requests_total:rest:success"] == 12
    assert got["modelplane_inference_queue_duration_seconds_count"] == 12
    assert got["modelplane_inference_in_flight"] == 0
    assert got["modelplane_model_state:ready"] == 1


def test_a_full_queue_answers_503_with_a_message_and_the_rest_succeed(repo: Path) -> None:
    write_model_yaml(repo / "adder", max_batch_size=2, batching={"max_queue_size": 2})
    with server_in_thread(slow_runner, model_repository=repo) as running:
        answers = asyncio.run(fire(f"{running.url}/v2/models/adder/infer", 10))
        codes = sorted(a.status_code for a in answers)
        rejected = [a for a in answers if a.status_code == 503]
        assert set(codes) == {200, 503} and codes.count(200) >= 3
        assert "queue full" in rejected[0].json()["error"]
        got = scrape(running)
    assert got["modelplane_inference_requests_total:rest:failure"] == len(rejected)


def test_a_request_outliving_the_batching_timeout_answers_504(repo: Path) -> None:
    write_model_yaml(repo / "adder", max_batch_size=4, batching={"timeout": SLOW_S / 3})
    with server_in_thread(slow_runner, model_repository=repo) as running:
        answer = httpx.post(f"{running.url}/v2/models/adder/infer", json=body([1.0] * 4))
    assert answer.status_code == 504
    assert "timed out" in answer.json()["error"]


def test_two_instances_run_two_executions_at_once(repo: Path) -> None:
    write_model_yaml(repo / "adder", instances=2)
    with server_in_thread(slow_runner, model_repository=repo) as running:
        answers = asyncio.run(fire(f"{running.url}/v2/models/adder/infer", 4))
        got = scrape(running)
    assert [a.status_code for a in answers] == [200] * 4
    assert got["modelplane_inference_executions_total"] == 4  # no batching: one per request
    assert SLOW_BACKENDS[-1].peak == 2  # two at once, never more


def test_grpc_requests_are_counted_under_their_protocol_and_metrics_port_serves_too(
    repo: Path,
) -> None:
    import tritonclient.grpc as grpcclient

    metrics_port = free_port()
    with server_in_thread(model_repository=repo, metrics_port=metrics_port) as running:
        client = grpcclient.InferenceServerClient(running.grpc_target)
        inputs = []
        for name in ("INPUT0", "INPUT1"):
            tensor = grpcclient.InferInput(name, [1, 4], "FP32")
            tensor.set_data_from_numpy(np.ones((1, 4), dtype=np.float32))
            inputs.append(tensor)
        for _ in range(3):
            client.infer("adder", inputs)
        with pytest.raises(Exception, match="INPUT1"):
            client.infer("adder", inputs[:1])  # INPUT1 missing: a failure
        client.close()
        got = scrape(running, metrics_port)
    assert got["modelplane_inference_requests_total:grpc:success"] == 3
    assert got["modelplane_inference_requests_total:grpc:failure"] == 1
    assert got["modelplane_inference_compute_infer_duration_seconds_count"] == 3
    assert "process_cpu_seconds_total" in got
