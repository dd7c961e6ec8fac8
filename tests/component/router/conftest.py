"""The router's component tests share one model server per test module (real ONNX models)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.component.router import servers
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_matmul


@pytest.fixture(params=["loop", "threads"])
def both_edges(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a test through each HTTP edge of the router (`servers.serve_router`): the event
    loop and threads (``--http-edge threads``)."""
    servers.EDGE["now"] = request.param
    yield request.param
    servers.EDGE["now"] = "loop"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """embed (8->4), mix (4->4), head (4->2), alt (8->4, other weights); score (4->2, its
    input called y and its output score: no other model has an output of that name)."""
    root: Path = tmp_path_factory.mktemp("router-grpc-models")
    onnx_matmul(root / "score" / "model.onnx", 4, 2, seed=5, names=("y", "score"))
    onnx_matmul(root / "embed" / "model.onnx", 8, 4, seed=1)
    onnx_matmul(root / "mix" / "model.onnx", 4, 4, seed=2)
    onnx_matmul(root / "head" / "model.onnx", 4, 2, seed=3)
    onnx_matmul(root / "alt" / "model.onnx", 8, 4, seed=4)
    with server_in_thread(model_repository=root) as running:
        yield running
