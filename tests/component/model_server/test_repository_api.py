"""Repository extension: index, load, unload (which frees the model), versions, late additions."""

from __future__ import annotations

import gc
import shutil
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub, onnx_matmul


@pytest.fixture
def repo_server(tmp_path: Path) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path / "repo"
    onnx_add_sub(root / "simple" / "model.onnx")
    onnx_matmul(root / "versioned" / "1" / "model.onnx", seed=1)
    onnx_matmul(root / "versioned" / "2" / "model.onnx", seed=2)
    with server_in_thread(model_repository=root) as running:
        yield running, root


def _linear(running: RunningServer, url_tail: str, x: np.ndarray) -> tuple[str, np.ndarray]:
    body = {
        "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.tolist()}]
    }
    reply = httpx.post(
        f"{running.url}/v2/models/versioned{url_tail}/infer", json=body, timeout=10
    ).json()
    return reply["model_version"], np.array(reply["outputs"][0]["data"], np.float32).reshape(
        x.shape[0], -1
    )


def test_versions_follow_the_url_and_default_to_latest(
    repo_server: tuple[RunningServer, Path],
) -> None:
    running, root = repo_server
    x = np.ones((2, 8), np.float32)
    for version in ("1", "2"):
        session = ort.InferenceSession(str(root / "versioned" / version / "model.onnx"))
        served_version, got = _linear(running, f"/versions/{version}", x)
        assert served_version == version
        np.testing.assert_allclose(got, session.run(None, {"x": x})[0], rtol=1e-6)
    assert _linear(running, "", x)[0] == "2"
    assert thttp.InferenceServerClient(running.http_target).get_model_metadata("versioned")[
        "versions"
    ] == ["1", "2"]


def test_unload_frees_the_model_and_load_brings_it_back(
    repo_server: tuple[RunningServer, Path],
) -> None:
    running, _ = repo_server
    client = thttp.InferenceServerClient(running.http_target)
    assert running.server is not None
    backend = weakref.ref(running.server.repository.get("simple", None).backend)
    client.unload_model("simple")
    gc.collect()
    assert backend() is None, (
        "the unloaded backend (and its onnxruntime session) is still referenced"
    )
    index = {m["name"]: m for m in client.get_model_repository_index()}
    simple = index["simple"]
    assert {k: simple[k] for k in ("name", "state", "reason")} == {
        "name": "simple",
        "state": "UNAVAILABLE",
        "reason": "unloaded",
    }
    assert set(simple) == {"name", "state", "reason", "memory", "last_used"}  # measured at load
    assert not client.is_model_ready("simple")
    with pytest.raises(InferenceServerException, match="not ready"):
        client.get_model_metadata("simple")
    # an unloaded model no longer holds the server's readiness hostage
    assert client.is_server_ready()
    client.load_model("simple")
    assert client.is_model_ready("simple")
    ready = httpx.post(
        f"{running.url}/v2/repository/index", json={"ready": True}, timeout=10
    ).json()
    assert {m["name"]: m["state"] for m in ready} == {"simple": "READY", "versioned": "READY"}


def test_grpc_repository_calls(repo_server: tuple[RunningServer, Path]) -> None:
    running, _ = repo_server
    client = tgrpc.InferenceServerClient(running.grpc_target)
    client.unload_model("versioned")
    assert not client.is_model_ready("versioned")
    states = {m.name: m.state for m in client.get_model_repository_index().models}
    assert states == {"simple": "READY", "versioned": "UNAVAILABLE"}
    client.load_model("versioned")
    assert client.is_model_ready("versioned", "1")
    with pytest.raises(InferenceServerException, match="not in the repository"):
        client.load_model("missing")


def test_model_added_after_start_can_be_loaded(repo_server: tuple[RunningServer, Path]) -> None:
    running, root = repo_server
    shutil.copytree(root / "simple", root / "late")
    client = thttp.InferenceServerClient(running.http_target)
    client.load_model("late")
    assert client.is_model_ready("late")


def test_failed_reload_keeps_serving_and_reports_why(
    repo_server: tuple[RunningServer, Path],
) -> None:
    running, root = repo_server
    (root / "simple" / "model.onnx").write_bytes(b"not an onnx file")
    client = thttp.InferenceServerClient(running.http_target)
    with pytest.raises(InferenceServerException, match="onnxruntime could not load it"):
        client.load_model("simple")
    index = {m["name"]: m for m in client.get_model_repository_index()}
    assert index["simple"]["state"] == "READY"
    assert "reload failed" in index["simple"]["reason"]
    assert "onnxruntime could not load it" in index["simple"]["reason"]
    assert client.is_model_ready("simple")
    client.unload_model("simple")
    with pytest.raises(InferenceServerException, match="onnxruntime could not load it"):
        client.load_model("simple")
    index = {m["name"]: m for m in client.get_model_repository_index()}
    assert index["simple"]["state"] == "UNAVAILABLE"


@pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine can run CUDA"
)
def test_cuda_model_without_cuda_reports_why(tmp_path: Path) -> None:
    from tests.support.models import write_model_yaml

    onnx_matmul(tmp_path / "gpu_only" / "model.onnx")
    write_model_yaml(tmp_path / "gpu_only", device="cuda")
    onnx_matmul(tmp_path / "on_cpu" / "model.onnx")
    write_model_yaml(tmp_path / "on_cpu", device="cpu")
    with server_in_thread(model_repository=tmp_path) as running:
        index = {
            m["name"]: m
            for m in thttp.InferenceServerClient(running.http_target).get_model_repository_index()
        }
        assert running.server is not None
        providers = running.server.repository.get("on_cpu", None).backend.providers  # type: ignore[attr-defined]
    assert index["gpu_only"]["state"] == "UNAVAILABLE"
    assert "install onnxruntime-gpu" in index["gpu_only"]["reason"]
    assert providers == ["CPUExecutionProvider"]
