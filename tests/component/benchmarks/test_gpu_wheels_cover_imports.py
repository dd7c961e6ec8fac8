"""What the GPU check imports is on the GPU machine: in its image's package list, or carried as a wheel.

A clean interpreter imports the check's modules and the CUDA-marked tests, serves one inference
through a real server on an ONNX model, and lists the distributions its modules came from.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import importlib, json, sys
from pathlib import Path
from importlib import metadata
import httpx
for name in sys.argv[2:]:
    importlib.import_module(name)
from tests.support.model_server import server_in_thread
from tests.support.models import onnx_matmul, write_model_yaml
root = Path(sys.argv[1])
onnx_matmul(root / "linear" / "model.onnx")
write_model_yaml(root / "linear", max_batch_size=4, device="cpu")
with server_in_thread(model_repository=root) as running:
    body = {"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [0.0] * 8}]}
    assert httpx.post(f"{running.url}/v2/models/linear/infer", json=body).status_code == 200
tops = metadata.packages_distributions()
used = set()
for name, module in list(sys.modules.items()):
    path = getattr(module, "__file__", None)
    dists = tops.get(name.partition(".")[0], [])
    if not path or not dists:
        continue
    if len(set(dists)) == 1:
        used.add(dists[0])
        continue
    resolved = Path(path).resolve()  # a namespace shared by several (google.*): the file says
    for dist in set(dists):
        files = metadata.distribution(dist).files or []
        if any(Path(metadata.distribution(dist).locate_file(f)).resolve() == resolved for f in files):
            used.add(dist)
print(json.dumps(sorted(used)))
"""
MODULES = [
    "modelplane.cli",
    "modelplane.model_server.cli",
    "modelplane.model_server.backends.onnx",
    "modelplane.model_server.backends.pytorch",
    "benchmarks.gpu",
    "benchmarks.gpu_direct",
    "benchmarks.gpu_load",
    "benchmarks.gpu_model",
    "benchmarks.gpu_report",
    "benchmarks.servers",
    "tests.conftest",
    "tests.support.client_tools",
    "tests.support.cluster",
    "tests.support.real_cluster",
    "tests.component.model_server.test_gpu_backends",
    "tests.component.model_server.test_onnx_cuda_options",
    "aiohttp",
    "uvloop",
    "pytest",
]


# Imported only because they are installed here: uvicorn (in tests' helpers) picks up websockets
# and watchfiles when present, and `import grpc` tries grpc_tools; each runs without them.
IF_PRESENT = {"websockets", "watchfiles", "grpcio-tools"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normal(re.split(r"[=<>~!\[ ]", line, maxsplit=1)[0]))
    return names


def test_every_imported_distribution_is_in_the_image_or_carried(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), *MODULES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    used = {_normal(name) for name in json.loads(done.stdout.strip().splitlines()[-1])}
    image = _names(ROOT / "benchmarks" / "gpu-image-packages.txt")
    carried = _names(ROOT / "benchmarks" / "gpu-requirements.txt")
    assert {"pydantic", "httptools", "onnxruntime", "torch", "aiohttp"} <= used  # the probe ran
    missing = sorted(used - image - carried - IF_PRESENT - {"modelplane"})
    assert missing == [], (
        f"imported on the GPU machine but neither in its image nor carried: {missing}"
    )
