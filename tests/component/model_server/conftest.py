"""Fixtures for model server component tests: a repository of real models and a running server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.component.model_server.pool_support import model_size, pool, storage
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub, onnx_identity, onnx_matmul

ALL_DATATYPES = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BF16", "BYTES",
]  # fmt: skip


@pytest.fixture(scope="module")
def onnx_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """simple (add/sub FP32), linear (MatMul+Add), identity_<dt> for every V2 datatype."""
    root = tmp_path_factory.mktemp("repo")
    onnx_add_sub(root / "simple" / "model.onnx")
    onnx_matmul(root / "linear" / "model.onnx")
    for datatype in ALL_DATATYPES:
        onnx_identity(root / f"identity_{datatype.lower()}" / "model.onnx", datatype)
    return root


@pytest.fixture(scope="module")
def onnx_server(onnx_repository: Path) -> Iterator[RunningServer]:
    """A server in this process over `onnx_repository`, on OS-picked ports."""
    with server_in_thread(model_repository=onnx_repository, max_request_size=1 << 20) as running:
        yield running


__all__ = ["model_size", "pool", "storage"]  # the pool's fixtures, offered to the directory
