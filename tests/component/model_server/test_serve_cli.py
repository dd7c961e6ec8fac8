"""`modelplane serve` as a real subprocess: single-model form, JSON logs, ready, infer."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.model_server import server_process, wait_ready
from tests.support.models import onnx_add_sub


def test_serve_single_model_answers_v2_and_logs_json(tmp_path: Path) -> None:
    onnx_add_sub(tmp_path / "m" / "model.onnx")
    args = ("--model-name", "adder", "--model-dir", str(tmp_path / "m"))
    with server_process(*args, env={"MODELPLANE_LOG_LEVEL": "info"}) as (proc, running):
        wait_ready(running.url)
        body = {
            "inputs": [
                {"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                {"name": "INPUT1", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]},
            ]
        }
        response = httpx.post(f"{running.url}/v2/models/adder/infer", json=body, timeout=10)
        assert response.status_code == 200
        assert response.json()["outputs"][0]["data"] == [2.0, 3.0, 4.0, 5.0]
        proc.terminate()
        assert proc.wait(timeout=30) == 0
        assert proc.stderr is not None
        lines = [
            json.loads(line) for line in proc.stderr.read().decode().splitlines() if line.strip()
        ]
    messages = [line["msg"] for line in lines]
    assert "server ready" in messages
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)
