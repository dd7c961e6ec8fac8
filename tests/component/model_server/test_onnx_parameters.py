"""An ONNX model's model.yaml parameters at load: a good one is applied, a bad one fails the load by name."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelplane.model_server.backends.onnx import OnnxBackend
from modelplane.model_server.config import read_config
from modelplane.model_server.errors import ModelLoadFailed
from tests.support.model_server import server_in_thread
from tests.support.models import onnx_matmul, write_model_yaml


def _load(directory: Path) -> OnnxBackend:
    backend = OnnxBackend(directory, read_config(directory))
    backend.load()
    return backend


def test_intra_op_threads_reaches_the_session(tmp_path: Path) -> None:
    onnx_matmul(tmp_path / "model.onnx")
    write_model_yaml(tmp_path, device="cpu", parameters={"intra_op_threads": 1})
    backend = _load(tmp_path)
    assert backend.options.intra_op_threads == 1
    assert backend._session.get_session_options().intra_op_num_threads == 1


def test_cuda_option_on_a_cpu_model_fails_the_load(tmp_path: Path) -> None:
    onnx_matmul(tmp_path / "model.onnx")
    write_model_yaml(tmp_path, device="cpu", parameters={"cuda_graph": True})
    with pytest.raises(ModelLoadFailed, match="cuda_graph is a CUDA provider option"):
        _load(tmp_path)


def test_cuda_options_on_auto_without_cuda_load_on_cpu(tmp_path: Path) -> None:
    onnx_matmul(tmp_path / "model.onnx")
    write_model_yaml(tmp_path, device="auto", parameters={"cudnn_conv_algo_search": "HEURISTIC"})
    backend = _load(tmp_path)
    if "CUDAExecutionProvider" in backend.providers:
        pytest.skip("this machine has CUDA: the options apply")
    assert backend.providers == ["CPUExecutionProvider"]


def test_unknown_parameter_is_the_models_unready_reason(tmp_path: Path) -> None:
    onnx_matmul(tmp_path / "linear" / "model.onnx")
    write_model_yaml(tmp_path / "linear", parameters={"io_bindings": True})
    with server_in_thread(model_repository=tmp_path) as running:
        answer = httpx.get(f"{running.url}/v2/models/linear/ready")
    assert answer.status_code == 503
    assert "unknown onnx parameter 'io_bindings'" in answer.json()["reason"]
