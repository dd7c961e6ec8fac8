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


def test_a_taken_port_is_a_clean_error_and_exit_1(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for flags in (
            ["--http-port", str(port), "--grpc-port", "0"],
            ["--http-port", "0", "--grpc-port", str(port)],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "modelplane", "serve", "--host", "127.0.0.1", *flags],
                capture_output=True,
                timeout=60,
                check=False,
            )
            errors = [
                json.loads(line)
                for line in done.stderr.decode().splitlines()
                if line.startswith("{")
            ]
            assert done.returncode == 1
            assert any(e["msg"] == "cannot start" and str(port) in e["reason"] for e in errors), (
                done.stderr
            )
