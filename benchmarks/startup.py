"""Startup to ready for a small ONNX model: `modelplane serve` launched until /v2/health/ready is 200.

Prints the figures (each run, best, median); asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.models import onnx_matmul  # noqa: E402
from tests.support.ports import free_port  # noqa: E402


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def measure(model_dir: Path, limit_s: float = 60.0) -> float:
    """Seconds from process launch to the first 200 from /v2/health/ready."""
    http, grpc = free_port(), free_port()
    command = [
        sys.executable, "-m", "modelplane", "serve", "--host", "127.0.0.1",
        "--http-port", str(http), "--grpc-port", str(grpc),
        "--model-name", "linear", "--model-dir", str(model_dir), "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{http}"
        while not _ready(url):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            if time.perf_counter() - start > limit_s:
                raise TimeoutError("server not ready within the limit")
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "linear"
        onnx_matmul(model_dir / "model.onnx", in_features=64, out_features=16)
        measure(model_dir)  # warm the OS file cache once
        runs = [measure(model_dir) for _ in range(args.runs)]
    print("startup to ready, small ONNX model (64x16 linear), `modelplane serve` subprocess")
    print("runs (s):", " ".join(f"{r:.3f}" for r in runs))
    print(f"best {min(runs):.3f} s, median {statistics.median(runs):.3f} s")
    print(
        "load average while measuring (1, 5, 15 min):",
        " ".join(f"{x:.2f}" for x in os.getloadavg()),
    )


if __name__ == "__main__":
    main()
