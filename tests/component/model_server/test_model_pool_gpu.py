"""The pool on GPU memory: measured per model from the device (torch and ONNX Runtime on CUDA),
refused beyond --gpu-memory-capacity; on a machine without CUDA the GPU capacity measures nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import onnxruntime as ort
import pytest

from tests.support.model_server import server_in_thread
from tests.support.models import onnx_add_constant_weighted, torchscript_linear, write_model_yaml

MB = 1 << 20


def _cuda_torch() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _index(url: str) -> dict[str, dict[str, object]]:
    return {m["name"]: m for m in httpx.post(f"{url}/v2/repository/index", timeout=30).json()}


def _load(url: str, name: str) -> httpx.Response:
    return httpx.post(f"{url}/v2/repository/models/{name}/load", timeout=120)


@pytest.mark.skipif(_cuda_torch(), reason="this machine has CUDA: the GPU tests below run instead")
def test_without_cuda_a_gpu_capacity_measures_host_memory_only(tmp_path: Path) -> None:
    onnx_add_constant_weighted(tmp_path / "m" / "model.onnx", 1.0, 1_000_000)
    with server_in_thread(model_repository=tmp_path, gpu_memory_capacity=64 * MB) as running:
        entry = _index(running.url)["m"]
        assert entry["state"] == "READY"
        assert "memory" in entry and "gpu_memory" not in entry
        metrics = httpx.get(f"{running.url}/metrics", timeout=10).text
        assert 'modelplane_model_memory_bytes{device="gpu",model="m"} 0.0' in metrics


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_torch(), reason="needs torch with a CUDA device")
def test_torch_on_cuda_is_measured_and_refused_beyond_the_gpu_capacity(tmp_path: Path) -> None:
    torchscript_linear(tmp_path / "big", in_features=8192, out_features=8192)  # 256 MiB
    write_model_yaml(
        tmp_path / "big",
        device="cuda",
        inputs=[{"name": "x", "datatype": "FP32", "shape": [-1, 8192]}],
        outputs=[{"name": "y", "datatype": "FP32", "shape": [-1, 8192]}],
    )
    with server_in_thread(model_repository=tmp_path, gpu_memory_capacity=4096 * MB) as running:
        entry = _index(running.url)["big"]
        assert entry["state"] == "READY"
        assert isinstance(entry["gpu_memory"], int) and entry["gpu_memory"] >= 200 * MB
    with server_in_thread(model_repository=tmp_path, gpu_memory_capacity=64 * MB) as running:
        entry = _index(running.url)["big"]
        assert entry["state"] == "UNAVAILABLE"
        assert str(entry["reason"]).startswith("does not fit: measured")
        assert "GPU memory" in str(entry["reason"])
        again = _load(running.url, "big")  # known now: refused before loading
        assert again.status_code == 400
        assert again.json()["error"].startswith("does not fit: needs")


@pytest.mark.gpu
@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers() or not _cuda_torch(),
    reason="needs onnxruntime-gpu, torch and a CUDA device",
)
def test_onnx_on_cuda_is_measured_from_the_device(tmp_path: Path) -> None:
    onnx_add_constant_weighted(tmp_path / "w" / "model.onnx", 1.0, 64 * MB)  # 64 Mi floats: 256 MiB
    write_model_yaml(tmp_path / "w", device="cuda")
    with server_in_thread(model_repository=tmp_path, gpu_memory_capacity=8192 * MB) as running:
        entry = _index(running.url)["w"]
        assert entry["state"] == "READY"
        assert isinstance(entry["gpu_memory"], int) and entry["gpu_memory"] >= 200 * MB
