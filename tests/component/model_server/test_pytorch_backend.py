"""TorchScript and torch.export models served over V2: results equal running them in torch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
import torch
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import exported_add_sub, torchscript_add_sub, torchscript_linear


@pytest.fixture(scope="module")
def torch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Any]]:
    root = tmp_path_factory.mktemp("torch-repo")
    torchscript_add_sub(root / "ts_add_sub")
    linear = torchscript_linear(root / "ts_linear")
    exported_add_sub(root / "ep_add_sub")
    exported_add_sub(root / "ep_add_sub_bf16", dtype="bfloat16")
    with server_in_thread(model_repository=root) as running:
        yield running, linear


def _inputs(module: Any, names: list[str], arrays: list[np.ndarray], datatype: str) -> list[Any]:
    out = []
    for name, array in zip(names, arrays, strict=True):
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        out.append(tensor)
    return out


@pytest.mark.parametrize("model", ["ts_add_sub", "ep_add_sub"])
@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_add_sub_equals_torch(
    torch_server: tuple[RunningServer, Any], model: str, transport: str
) -> None:
    server, _ = torch_server
    x = np.random.default_rng(3).standard_normal((3, 4)).astype(np.float32)
    y = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    module: Any = thttp if transport == "http" else tgrpc
    client = module.InferenceServerClient(
        server.http_target if transport == "http" else server.grpc_target
    )
    result = client.infer(model, _inputs(module, ["x", "y"], [x, y], "FP32"))
    first, second = ("sum", "diff") if model == "ts_add_sub" else ("output__0", "output__1")
    np.testing.assert_array_equal(
        result.as_numpy(first), (torch.from_numpy(x) + torch.from_numpy(y)).numpy()
    )
    np.testing.assert_array_equal(
        result.as_numpy(second), (torch.from_numpy(x) - torch.from_numpy(y)).numpy()
    )


def test_traced_linear_equals_eager_module(torch_server: tuple[RunningServer, Any]) -> None:
    server, linear = torch_server
    x = np.random.default_rng(5).standard_normal((6, 8)).astype(np.float32)
    client = thttp.InferenceServerClient(server.http_target)
    result = client.infer("ts_linear", _inputs(thttp, ["x"], [x], "FP32"))
    with torch.no_grad():
        expected = linear(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(result.as_numpy("y"), expected, rtol=1e-6)


def test_exported_program_metadata_comes_from_the_graph(
    torch_server: tuple[RunningServer, Any],
) -> None:
    server, _ = torch_server
    meta = thttp.InferenceServerClient(server.http_target).get_model_metadata("ep_add_sub")
    assert meta["platform"] == "pytorch_export"
    assert meta["inputs"] == [
        {"name": "x", "datatype": "FP32", "shape": [-1, 4]},
        {"name": "y", "datatype": "FP32", "shape": [-1, 4]},
    ]


def test_bf16_exported_program(torch_server: tuple[RunningServer, Any]) -> None:
    server, _ = torch_server
    x = np.array([[1.5, 2.25, -3.0, 0.5]], dtype=ml_dtypes.bfloat16)
    y = np.array([[0.5, 0.25, 1.0, 0.5]], dtype=ml_dtypes.bfloat16)
    client = tgrpc.InferenceServerClient(server.grpc_target)
    result = client.infer("ep_add_sub_bf16", _inputs(tgrpc, ["x", "y"], [x, y], "BF16"))
    got = result.as_numpy("output__0")
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.astype(np.float32), [[2.0, 2.5, -2.0, 1.0]])


def test_torchscript_without_declared_tensors_reports_why(tmp_path: Path) -> None:
    torchscript_add_sub(tmp_path / "bare")
    (tmp_path / "bare" / "model.yaml").unlink()
    with server_in_thread(model_repository=tmp_path) as running:
        index = thttp.InferenceServerClient(running.http_target).get_model_repository_index()
        assert not running.server.dataplane.ready()  # type: ignore[union-attr]
    assert index[0]["state"] == "UNAVAILABLE"
    assert "declare inputs and outputs in model.yaml" in index[0]["reason"]
