"""`modelplane router --graph FILE` as a real process: serves the graph, rejects a bad one."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from tests.component.router.graphs import X, chain_by_hand, grpc_url, rest_url
from tests.component.router.servers import serve_asgi
from tests.component.router.upstream_app import Upstream
from tests.support.model_server import RunningServer
from tests.support.ports import free_port

V2_IN = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}]}


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    with serve_asgi(Upstream(), lifespan="off") as base:
        yield base


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"router exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("router not ready within 20s")


def test_cli_serves_the_graph_as_a_v2_model(tmp_path: Path, upstream_url: str) -> None:
    graph = {
        "name": "chain",
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {"serviceUrl": f"{upstream_url}/v2/models/add1/infer"},
                    {"serviceUrl": f"{upstream_url}/v2/models/add1/infer", "data": "$response"},
                ],
            }
        },
    }
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(graph))
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "modelplane",
        "router",
        "--graph",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--grpc-port",  # any free port: the default 8081 may be another test's
        "0",
        "--max-request-size",
        "4096",
        "--max-connections",
        "3",
        "--max-header-size",
        "2048",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        r = httpx.post(f"{base}/v2/models/chain/infer", json=V2_IN, timeout=10)
        assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [3.0]
        assert httpx.post(f"{base}/", json=V2_IN, timeout=10).json()["outputs"][0]["data"] == [3.0]
        _bodies_are_read_as_the_model_server_reads_them(base)
        _idle_connection_outlives_uvicorns_default(port)
        _client_limits_are_the_flags(base, port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def _bodies_are_read_as_the_model_server_reads_them(base: str) -> None:
    """On the router's own edge: a gzip body is inflated; a body over --max-request-size is
    refused 413 in the router's error format (declared: before it is read; inflated: after),
    and counted among the answered requests."""
    url = f"{base}/v2/models/chain/infer"
    packed = gzip.compress(json.dumps(V2_IN).encode())
    r = httpx.post(url, content=packed, headers={"content-encoding": "gzip"}, timeout=10)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [3.0]
    for body, headers in (
        (b"x" * 5000, {}),
        (gzip.compress(b" " * 5000), {"content-encoding": "gzip"}),
    ):
        r = httpx.post(url, content=body, headers=headers, timeout=10)
        assert r.status_code == 413 and set(r.json()) == {"error", "cause", "step"}
        assert r.json()["error"] == "request body too large"
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert 'modelplane_router_requests_total{code="413",graph="chain"} 2.0' in metrics


def _client_limits_are_the_flags(base: str, port: int) -> None:
    """--max-connections and --max-header-size, answered in the router's error format and
    counted: a fourth open connection gets 503 and is closed, a head over 2048 bytes 431."""
    time.sleep(0.2)  # the test's earlier connections are closed on the router's side too
    ping = b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(ping)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
            extra.sendall(ping)
            head, _, body = extra.recv(65536).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 503") and b"connection: close" in head
            assert json.loads(body)["cause"] == "too many connections: this server serves at most 3"
            assert extra.recv(1) == b""
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    r = httpx.get(f"{base}/readyz", headers={"x-big": "y" * 3000}, timeout=10)
    assert r.status_code == 431 and set(r.json()) == {"error", "cause", "step"}
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    for code in ("503", "431"):
        assert f'modelplane_router_requests_total{{code="{code}",graph="chain"}} 1.0' in metrics


def _idle_connection_outlives_uvicorns_default(port: int) -> None:
    """A kept-alive connection idle for 6 s still serves: a proxy in front (Traefik keeps
    idle connections 90 s) must never reuse one the router is closing (uvicorn's default
    closes after 5 s, and the proxy's POST on it is lost)."""
    request = b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(6)
        sock.sendall(request)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_cli_refuses_a_graph_with_a_bad_condition(tmp_path: Path) -> None:
    graph = {
        "name": "bad",
        "nodes": {
            "root": {
                "routerType": "Switch",
                "steps": [
                    {"name": "pick", "serviceUrl": "http://127.0.0.1:1/x", "condition": "a >> 1"}
                ],
            }
        },
    }
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    done = subprocess.run(
        [sys.executable, "-m", "modelplane", "router", "--graph", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "nodes.root.steps[0] (pick): invalid condition 'a >> 1'" in done.stderr


def test_a_graph_file_asking_for_threads_is_served_on_threads(
    tmp_path: Path, upstream_url: str
) -> None:
    """`httpEdge` in the graph file (the operator writes an InferenceGraph's there) chooses the
    edge when no `--http-edge` is given; the answer is the graph's as on the loop."""
    graph = {
        "name": "g",
        "httpEdge": "threads",
        "nodes": {
            "root": {
                "routerType": "Ensemble",
                "steps": [
                    {"name": "a", "serviceUrl": f"{upstream_url}/v2/models/add1/infer"},
                    {"name": "b", "serviceUrl": f"{upstream_url}/v2/models/add1/infer"},
                ],
            }
        },
    }
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    port = free_port()
    cmd = [sys.executable, "-m", "modelplane", "router", "--graph", str(path)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--grpc-port", "-1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        r = httpx.post(f"{base}/v2/models/g/infer", json=V2_IN, timeout=10)
        assert r.status_code == 200, r.text
        assert [o["name"] for o in r.json()["outputs"]] == ["a.y", "b.y"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.stderr is not None
    logged = [json.loads(line) for line in proc.stderr.read().decode().splitlines() if line]
    proc.stderr.close()
    listening = [e for e in logged if e.get("msg") == "HTTP listening"]
    assert [e["http_edge"] for e in listening] == ["threads"]


def test_threads_serve_a_graph_with_grpc_and_rest_steps_as_the_hand_calls(
    tmp_path: Path, models: RunningServer
) -> None:
    """`--http-edge threads` with gRPC steps: an Ensemble of a gRPC and a REST member and a
    gRPC Sequence after it, answered on the threads (the log says so) with the models' bits."""
    graph = {
        "name": "g",
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {"name": "both", "nodeName": "both"},
                    {
                        "name": "head",
                        "serviceUrl": grpc_url(models, "head"),
                        "data": "$response",
                        "mapping": {"embed.y": "x"},
                    },
                ],
            },
            "both": {
                "routerType": "Ensemble",
                "steps": [
                    {"name": "embed", "serviceUrl": grpc_url(models, "embed")},
                    {"name": "alt", "serviceUrl": rest_url(models, "alt")},
                ],
            },
        },
    }
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    port = free_port()
    cmd = [sys.executable, "-m", "modelplane", "router", "--graph", str(path), "--http-edge"]
    cmd += ["threads", "--host", "127.0.0.1", "--port", str(port), "--grpc-port", "-1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 8], "data": X.tolist()}]}
    try:
        _wait_ready(base, proc)
        r = httpx.post(f"{base}/v2/models/g/infer", json=body, timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert r.status_code == 200, r.text
    want = chain_by_hand(models, X, "embed", "head")
    (out,) = r.json()["outputs"]
    assert np.asarray(out["data"], dtype=np.float32).tobytes() == want.ravel().tobytes()
    assert r.json()["parameters"]["graph_steps"] == "both/embed,both/alt,root/head"
    assert proc.stderr is not None
    logged = [json.loads(line) for line in proc.stderr.read().decode().splitlines() if line]
    proc.stderr.close()
    listening = [e for e in logged if e.get("msg") == "HTTP listening"]
    assert [e["http_edge"] for e in listening] == ["threads"]
