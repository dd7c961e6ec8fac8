"""Each image's entry command (ENTRYPOINT + CMD of its Dockerfile) serves when run as is.

The container paths and ports of the command move to a temp dir and free 127.0.0.1 ports, the
way local mode moves them; everything else is the image's own command line.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from modelplane.local.argv import map_paths, set_flag
from modelplane.local.processes import Process, Supervisor
from tests.support.models import onnx_add_sub
from tests.support.ports import free_port
from tools.images.dockerfile import load


@pytest.fixture
def supervisor() -> Iterator[Supervisor]:
    sup = Supervisor(io.StringIO())
    try:
        yield sup
    finally:
        sup.stop(grace=5)


def local(command: list[str], mounts: dict[str, str]) -> list[str]:
    assert command[0] == "modelplane"
    return map_paths([sys.executable, "-m", "modelplane", *command[1:]], mounts)


def start_model_server(supervisor: Supervisor, repository: Path) -> Process:
    command = local(load("model-server").command, {"/mnt/models": str(repository)})
    port = free_port()
    argv = set_flag(set_flag(command, "--host", "127.0.0.1"), "--http-port", str(port))
    argv = set_flag(argv, "--grpc-port", str(free_port()))
    process = Process("model-server", tuple(argv), {}, port)
    supervisor.wait_ready([supervisor.start(process)], timeout=60)
    return process


def test_cuda_image_runs_the_same_server_command() -> None:
    assert load("model-server-cuda").command == load("model-server").command


def test_model_server_image_command_serves_its_model_repository(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    onnx_add_sub(tmp_path / "add_sub" / "model.onnx")
    server = start_model_server(supervisor, tmp_path)
    a = [1.0, 2.0, 3.0, 4.0]
    b = [0.5, 0.5, 0.5, 0.5]
    body = {
        "inputs": [
            {"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": a},
            {"name": "INPUT1", "shape": [1, 4], "datatype": "FP32", "data": b},
        ]
    }
    response = httpx.post(f"{server.url}/v2/models/add_sub/infer", json=body, timeout=10)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    assert np.allclose(outputs["OUTPUT0"], np.add(a, b))
    assert np.allclose(outputs["OUTPUT1"], np.subtract(a, b))


def test_router_image_command_runs_the_graph_it_is_given(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    onnx_add_sub(tmp_path / "models" / "add_sub" / "model.onnx")
    server = start_model_server(supervisor, tmp_path / "models")
    graph_dir = tmp_path / "graph"
    graph_dir.mkdir()
    (graph_dir / "graph.json").write_text(
        json.dumps(
            {
                "name": "g",
                "nodes": {
                    "root": {
                        "routerType": "Sequence",
                        "steps": [
                            {"name": "s", "serviceUrl": f"{server.url}/v2/models/add_sub/infer"}
                        ],
                    }
                },
            }
        )
    )
    command = local(load("router").command, {"/etc/modelplane": str(graph_dir)})
    port = free_port()
    argv = set_flag(set_flag(command, "--host", "127.0.0.1"), "--port", str(port))
    argv = set_flag(argv, "--grpc-port", "0")  # any free port: the image's 8081 may be taken
    router = Process("router", tuple(argv), {}, port)
    supervisor.wait_ready([supervisor.start(router)], timeout=60)
    body = {
        "inputs": [
            {"name": n, "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}
            for n in ("INPUT0", "INPUT1")
        ]
    }
    response = httpx.post(f"{router.url}/", json=body, timeout=10)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
    assert outputs["OUTPUT0"] == [2, 2, 2, 2]
