"""A multi-model pool for model server component tests: models in HTTP storage, their measured
size, a server with room for about five, and the calls the tests make to it. Its fixtures are
offered to the directory by conftest.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.support.file_server import serve_files
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import broken_onnx, onnx_add_constant_weighted, python_model

REPO_ROOT = Path(__file__).resolve().parents[3]
WEIGHTS = 1_000_000  # 4 MB of weights per model
MODELS = 20
SLOW = """
    import time


    class Model:
        def __init__(self, model_dir):
            pass

        def load(self):
            time.sleep(2.0)

        def predict(self, inputs):
            return {"OUTPUT0": inputs["INPUT0"]}
"""


class Storage:
    """A plain HTTP server on 127.0.0.1 serving `root`, counting the GETs of each path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.gets: Counter[str] = Counter()
        self._served = serve_files(root, self.gets)
        self.url = self._served.__enter__()

    def close(self) -> None:
        self._served.__exit__(None, None, None)


def _tar_gz(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                bundle.add(path, arcname=str(path.relative_to(directory)))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    """m0..m19 (answer x + i) as model.tar.gz archives, and big.onnx (16x the weights)."""
    root = tmp_path_factory.mktemp("www")
    build = tmp_path_factory.mktemp("build")
    for i in range(MODELS):
        onnx_add_constant_weighted(build / f"m{i}" / "1" / "model.onnx", float(i), WEIGHTS)
        (root / f"m{i}").mkdir()
        (root / f"m{i}" / "model.tar.gz").write_bytes(_tar_gz(build / f"m{i}"))
    onnx_add_constant_weighted(root / "big" / "model.onnx", 100.0, WEIGHTS * 16)
    broken_onnx(root / "broken" / "model.onnx")
    python_model(build / "slow", SLOW)
    python_model(build / "busy", BUSY)
    (root / "busy").mkdir()
    (root / "busy" / "model.tar.gz").write_bytes(_tar_gz(build / "busy"))
    (root / "slow").mkdir()
    (root / "slow" / "model.tar.gz").write_bytes(_tar_gz(build / "slow"))
    served = Storage(root)
    try:
        yield served
    finally:
        served.close()


BUSY = """
    import time

    import numpy as np


    class Model:
        def __init__(self, model_dir):
            self.weights = None

        def load(self):
            self.weights = np.ones(12 * 1024 * 1024, np.float32)  # 48 MiB, resident

        def predict(self, inputs):
            time.sleep(0.4)
            return {"OUTPUT0": inputs["INPUT0"]}
"""


def _uri(storage: Any, name: str) -> str:
    file = "model.onnx" if name in ("big", "broken") else "model.tar.gz"
    return f"{storage.url}/{name}/{file}"


def _post(running: RunningServer, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{running.url}{path}", json=body, timeout=60)


def _register(running: RunningServer, storage: Any, name: str, **extra: Any) -> httpx.Response:
    parameters = {"storage_uri": _uri(storage, name), **extra}
    return _post(running, f"/v2/repository/models/{name}/load", {"parameters": parameters})


def _infer(running: RunningServer, name: str, x: float = 1.0) -> httpx.Response:
    body = {"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [x]}]}
    return _post(running, f"/v2/models/{name}/infer", body)


def _index(running: RunningServer) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in _post(running, "/v2/repository/index").json()}


def _metric(running: RunningServer, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    text = httpx.get(f"{running.url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


@pytest.fixture(scope="module")
def model_size(storage: Storage, tmp_path_factory: pytest.TempPathFactory) -> int:
    """The measured size of one model, from a server without a capacity in a process of its
    own: the median of five loads after the first (which also carries onnxruntime's one-time
    setup). Measured in this process, the reading also held what other tests' threads and
    garbage freed meanwhile (a CI run read 53 KB to 3.9 MB for a model of 4 MB of weights)."""
    repository = tmp_path_factory.mktemp("probe")
    code = "import sys; from tests.component.model_server import pool_support as p; p.print_sizes()"
    measured = subprocess.run(
        [sys.executable, "-c", code, storage.url, str(repository)],
        capture_output=True, text=True, timeout=180, check=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip
    sizes = json.loads(measured.stdout.strip().splitlines()[-1])
    size = sizes[len(sizes) // 2]
    assert isinstance(size, int) and size > WEIGHTS * 4 // 2, sizes
    return int(size)


def print_sizes() -> None:
    """`model_size`'s measurement, run in a fresh process: argv is the storage URL and an
    empty repository; prints the sorted sizes of m1..m5 as JSON."""
    url, repository = sys.argv[1], Path(sys.argv[2])
    names = [f"m{i}" for i in range(6)]
    with server_in_thread(model_repository=repository) as running:
        for name in names:
            assert _register(running, SimpleNamespace(url=url), name).status_code == 200
        index = _index(running)
    print(json.dumps(sorted(index[name]["memory"] for name in names[1:])), flush=True)


@pytest.fixture
def pool(storage: Storage, model_size: int, tmp_path: Path) -> Iterator[tuple[RunningServer, int]]:
    """A server with an empty repository and room for about five models."""
    capacity = int(model_size * 5.5)
    (tmp_path / "models").mkdir()
    with server_in_thread(
        model_repository=tmp_path / "models", memory_capacity=capacity
    ) as running:
        yield running, capacity
