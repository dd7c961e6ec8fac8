"""On a CUDA machine: the ONNX CUDA provider and torch on cuda serve the same answers as CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as thttp

from tests.support.model_server import server_in_thread
from tests.support.models import exported_add_sub, onnx_matmul, write_model_yaml

pytestmark = pytest.mark.gpu


def _cuda_torch() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(
    "CUDAExecutionProvider" not in ort.get_available_providers(),
    reason="needs onnxruntime-gpu and a CUDA device",
)
def test_onnx_on_cuda_provider(tmp_path: Path) -> None:
    onnx_matmul(tmp_path / "linear" / "model.onnx")
    write_model_yaml(tmp_path / "linear", device="cuda")
    x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    with server_in_thread(model_repository=tmp_path) as running:
        assert running.server is not None
        backend = running.server.repository.get("linear", None).backend
        assert backend.providers[0] == "CUDAExecutionProvider"  # type: ignore[attr-defined]
        tensor = thttp.InferInput("x", [4, 8], "FP32")
        tensor.set_data_from_numpy(x)
        got = (
            thttp.InferenceServerClient(running.http_target).infer("linear", [tensor]).as_numpy("y")
        )
    cpu = ort.InferenceSession(
        str(tmp_path / "linear" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(got, cpu.run(None, {"x": x})[0], rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(not _cuda_torch(), reason="needs torch with a CUDA device")
def test_torch_export_on_cuda(tmp_path: Path) -> None:
    exported_add_sub(tmp_path / "ep")
    write_model_yaml(tmp_path / "ep", device="cuda")
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    with server_in_thread(model_repository=tmp_path) as running:
        assert running.server is not None
        assert running.server.repository.get("ep", None).backend.device == "cuda"  # type: ignore[attr-defined]
        inputs = []
        for name in ("x", "y"):
            tensor = thttp.InferInput(name, [2, 4], "FP32")
            tensor.set_data_from_numpy(x)
            inputs.append(tensor)
        result = thttp.InferenceServerClient(running.http_target).infer("ep", inputs)
    np.testing.assert_array_equal(result.as_numpy("output__0"), 2 * x)
