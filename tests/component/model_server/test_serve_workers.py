"""`modelplane serve --workers 2`: two processes answer on one port and their metrics add up."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.model_server import server_process, wait_ready
from tests.support.models import onnx_add_sub
from tests.support.ports import free_port

BODY = {
    "inputs": [
        {"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
        {"name": "INPUT1", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]},
    ]
}


def scrape(url: str) -> tuple[float, set[str], float]:
    """Successful requests, the pids with process metrics, and models ready (summed)."""
    text = httpx.get(url, timeout=10).text
    ok, pids, ready = 0.0, set(), 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "modelplane_inference_requests_total" and s.labels["outcome"] == "success":
                ok += s.value
            if s.name == "process_cpu_seconds_total":
                pids.add(s.labels["pid"])
            if s.name == "modelplane_model_state" and s.labels["state"] == "ready":
                ready += s.value
    return ok, pids, ready


@pytest.mark.slow
def test_two_workers_share_the_port_and_report_summed_metrics(tmp_path: Path) -> None:
    onnx_add_sub(tmp_path / "adder" / "model.onnx")
    metrics_port = free_port()
    args = ("--model-repository", str(tmp_path), "--workers", "2")
    with server_process(*args, "--metrics-port", str(metrics_port)) as (proc, running):
        wait_ready(running.url)
        deadline = time.monotonic() + 60
        while scrape(f"{running.url}/metrics")[2] < 2:  # the second worker may still be loading
            assert time.monotonic() < deadline, "second worker never became ready"
            time.sleep(0.1)
        for _ in range(8):  # a fresh connection each: the kernel spreads them over workers
            answer = httpx.post(f"{running.url}/v2/models/adder/infer", json=BODY, timeout=10)
            assert answer.status_code == 200
            assert answer.json()["outputs"][0]["data"] == [2.0, 3.0, 4.0, 5.0]
        ok, pids, ready = scrape(f"{running.url}/metrics")
        assert ok == 8
        assert len(pids) == 2
        assert ready == 2  # both workers loaded the model
        assert scrape(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 8
        proc.terminate()
        assert proc.wait(timeout=60) == 0
