"""Many models on one overcommitted server: cold (evicted) vs warm request latency (make bench-pool).

Starts `modelplane serve` with an empty repository and a `--memory-capacity` for about five
of the models, serves N small ONNX models (4 MB of weights each) over HTTP on 127.0.0.1,
registers them all lazily, then times requests: warm (the model is loaded) and cold (the
model was evicted: the request waits for its load, which evicts the least recently used).
Prints the figures, the server's resident memory and what its index accounts for; asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.file_server import serve_files  # noqa: E402
from tests.support.models import onnx_add_constant_weighted  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

WEIGHTS = 1_000_000


@contextmanager
def serve(repository: Path, *flags: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`modelplane serve` on a free port until /v2/health/ready, stopped on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "modelplane", "serve", "--host", "127.0.0.1",
        "--http-port", str(port), "--grpc-port", "-1", "--model-repository", str(repository),
        "--log-level", "warning", *flags,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server not ready in 60 s")
            time.sleep(0.05)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def register(client: httpx.Client, url: str, store: str, name: str, lazy: bool) -> None:
    parameters = {"storage_uri": f"{store}/{name}/model.onnx", "lazy": lazy}
    answer = client.post(
        f"{url}/v2/repository/models/{name}/load", json={"parameters": parameters}, timeout=120
    )
    answer.raise_for_status()


def infer(client: httpx.Client, url: str, name: str) -> float:
    body = {"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [1.0]}]}
    start = time.perf_counter()
    answer = client.post(f"{url}/v2/models/{name}/infer", json=body, timeout=120)
    seconds = time.perf_counter() - start
    answer.raise_for_status()
    return seconds


def index(client: httpx.Client, url: str) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in client.post(f"{url}/v2/repository/index").json()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--fit", type=float, default=5.5, help="models the capacity holds")
    parser.add_argument("--warm", type=int, default=300, help="warm requests")
    parser.add_argument("--rounds", type=int, default=3, help="cold passes over every model")
    args = parser.parse_args()
    names = [f"m{i}" for i in range(args.models)]
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp, httpx.Client() as client:
        root = Path(tmp)
        for i, name in enumerate(names):
            onnx_add_constant_weighted(root / "www" / name / "model.onnx", float(i), WEIGHTS)
        with serve_files(root / "www") as store:
            (root / "probe").mkdir()
            with serve(root / "probe") as (url, _):
                for name in names[:6]:
                    register(client, url, store, name, lazy=False)
                sizes = sorted(index(client, url)[n]["memory"] for n in names[1:6])
            size = sizes[len(sizes) // 2]
            capacity = int(size * args.fit)
            (root / "pool").mkdir()
            with serve(root / "pool", "--memory-capacity", str(capacity)) as (url, proc):
                for name in names:
                    register(client, url, store, name, lazy=True)
                rss_empty = rss_mib(proc.pid)
                cold = [infer(client, url, n) for _ in range(args.rounds) for n in names]
                hot = names[-1]
                warm = [infer(client, url, hot) for _ in range(args.warm)]
                state = index(client, url)
                rss_full = rss_mib(proc.pid)
                metrics = client.get(f"{url}/metrics").text
    ready = [m for m in state.values() if m["state"] == "READY"]
    evictions = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("modelplane_model_evictions_total{")
    )
    print(
        f"models: {args.models} x {WEIGHTS * 4 / 2**20:.1f} MiB of weights; measured size "
        f"(median of 5 loads) {size / 2**20:.2f} MiB; capacity {capacity / 2**20:.1f} MiB"
    )
    print(
        f"cold (evicted) requests: n={len(cold)} p50={statistics.median(cold) * 1e3:.1f} ms "
        f"p90={statistics.quantiles(cold, n=10)[-1] * 1e3:.1f} ms"
    )
    print(
        f"warm requests:           n={len(warm)} p50={statistics.median(warm) * 1e3:.2f} ms "
        f"p90={statistics.quantiles(warm, n=10)[-1] * 1e3:.2f} ms"
    )
    print(
        f"loaded at the end: {len(ready)} models, {sum(m['memory'] for m in ready) / 2**20:.1f} "
        f"MiB accounted; evictions {evictions:.0f}"
    )
    print(f"server RSS: {rss_empty:.0f} MiB registered and empty, {rss_full:.0f} MiB at the end")


if __name__ == "__main__":
    main()
