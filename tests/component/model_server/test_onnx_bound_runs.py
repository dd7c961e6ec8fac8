"""The IO-binding and CUDA-graph run paths of the ONNX backend, on CPU buffers (the GPU test does cuda).

Same code as on the GPU, with "cpu" in place of "cuda": a shape's first request runs plainly,
later ones go through its fixed buffers; shapes past the limit run without buffers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from modelplane.model_server.backends.onnx_cuda import CudaGraphs, bound_run, shape_key
from tests.support.models import onnx_matmul


def _session(tmp_path: Path) -> ort.InferenceSession:
    model = onnx_matmul(tmp_path / "model.onnx", in_features=6, out_features=3)
    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])


def test_bound_run_answers_as_a_plain_run(tmp_path: Path) -> None:
    session = _session(tmp_path)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    (got,) = bound_run(session, ["y"], {"x": x}, device="cpu")
    np.testing.assert_allclose(got, session.run(["y"], {"x": x})[0], rtol=1e-6)


def test_each_shape_gets_fixed_buffers_up_to_the_limit(tmp_path: Path) -> None:
    session = _session(tmp_path)
    graphs = CudaGraphs(session, ["y"], limit=2, device="cpu")
    rng = np.random.default_rng(1)
    for _ in range(3):
        for rows in (1, 4, 9):
            x = rng.standard_normal((rows, 6)).astype(np.float32)
            (got,) = graphs.run({"x": x})
            np.testing.assert_allclose(got, session.run(["y"], {"x": x})[0], rtol=1e-5)
    assert graphs.captured == 2  # 1 and 4 rows; 9 rows ran without buffers every time


def test_requests_of_one_shape_share_a_key_and_others_do_not() -> None:
    a = {"x": np.zeros((2, 6), np.float32)}
    assert shape_key(a) == shape_key({"x": np.ones((2, 6), np.float32)})
    assert shape_key(a) != shape_key({"x": np.zeros((3, 6), np.float32)})
    assert shape_key(a) != shape_key({"x": np.zeros((2, 6), np.float64)})
