"""On a CUDA machine: every CUDA option set of the ONNX backend answers as the CPU does.

Several rounds of several batch sizes, so that CUDA graphs are captured and then replayed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from modelplane.model_server.backends.onnx import OnnxBackend
from modelplane.model_server.backends.onnx_options import Scalar
from modelplane.model_server.config import read_config
from tests.support.models import onnx_matmul, write_model_yaml

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        "CUDAExecutionProvider" not in ort.get_available_providers(),
        reason="needs onnxruntime-gpu and a CUDA device",
    ),
]


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"cudnn_conv_algo_search": "HEURISTIC"},
        {"io_binding": True},
        {"cuda_graph": True},
        {"cuda_graph": True, "cudnn_conv_algo_search": "HEURISTIC"},
    ],
)
def test_option_set_answers_as_cpu(tmp_path: Path, parameters: dict[str, Scalar]) -> None:
    model = onnx_matmul(tmp_path / "model.onnx", in_features=16, out_features=8)
    write_model_yaml(tmp_path, device="cuda", parameters=parameters)
    backend = OnnxBackend(tmp_path, read_config(tmp_path))
    backend.load()
    assert backend.providers[0] == "CUDAExecutionProvider"
    cpu = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for _ in range(3):
        for rows in (1, 4, 7):
            x = rng.standard_normal((rows, 16)).astype(np.float32)
            got = backend.infer({"x": x})["y"]
            np.testing.assert_allclose(got, cpu.run(None, {"x": x})[0], rtol=1e-3, atol=1e-4)
    if parameters.get("cuda_graph"):
        assert backend._graphs is not None and backend._graphs.captured == 3
    backend.unload()
