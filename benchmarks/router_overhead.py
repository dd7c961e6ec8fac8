"""Router overhead: a 1-step Sequence through the router versus calling the model directly,
and an Ensemble of 3 versus its slowest member. Prints a table; asserts nothing.

Every server is a separate process on 127.0.0.1; the client is one keep-alive connection
sending requests back to back, so the client's own cost is the same on both sides of each
comparison. Upstreams are a minimal V2 echo app (``--upstream``) unless ``--serve-model DIR``
names an ONNX model directory for ``modelplane serve``.

    python benchmarks/router_overhead.py [--requests 2000] [--payload 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DELAYS_MS = (2, 5, 10)  # ensemble members' service times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def upstream_app() -> Any:
    """A V2 'model' that sleeps the number of ms in its name (m0, m5...) and echoes its input."""
    import orjson

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        name = scope["path"].split("/")[3]
        if scope["method"] == "GET":
            answer = b"{}"
        else:
            delay = int(name[1:]) / 1000
            if delay:
                await asyncio.sleep(delay)
            tensor = orjson.loads(body)["inputs"][0]
            answer = orjson.dumps({"model_name": name, "outputs": [{**tensor, "name": "y"}]})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    return app


def wait_up(port: int, path: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        time.sleep(0.05)
    raise SystemExit(f"server on {port} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def process(cmd: list[str], port: int, ready_path: str) -> Iterator[int]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port, ready_path, proc)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(port: int, path: str, body: bytes, n: int) -> list[float]:
    """Latencies (ms) of n sequential POSTs on one keep-alive connection, after a warm-up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json"}
    out = []
    for i in range(n + n // 10):
        start = time.perf_counter()
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        response.read()
        took = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise SystemExit(f"POST {path} answered {response.status}")
        if i >= n // 10:
            out.append(took)
    conn.close()
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--payload", type=int, default=16, help="FP32 elements in the input tensor")
    p.add_argument("--upstream", type=int, help=argparse.SUPPRESS)  # child mode: serve on port
    args = p.parse_args()
    if args.upstream:
        import uvicorn

        uvicorn.run(
            upstream_app(),
            host="127.0.0.1",
            port=args.upstream,
            log_level="warning",
            access_log=False,
            http="httptools",
            loop="uvloop",
            lifespan="off",
        )
        return 0

    py = sys.executable
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP32",
                    "shape": [args.payload],
                    "data": [float(i) for i in range(args.payload)],
                }
            ]
        }
    ).encode()
    up = free_port()
    rows: list[tuple[str, list[float]]] = []
    router_cpu: dict[str, float] = {}
    with process([py, __file__, "--upstream", str(up)], up, "/v2/models/m0/ready"):
        model = f"http://127.0.0.1:{up}/v2/models"
        graphs = {
            "seq1": {
                "root": {"routerType": "Sequence", "steps": [{"serviceUrl": f"{model}/m0/infer"}]}
            },
            "ens3": {
                "root": {
                    "routerType": "Ensemble",
                    "steps": [
                        {"name": f"m{d}", "serviceUrl": f"{model}/m{d}/infer"} for d in DELAYS_MS
                    ],
                }
            },
        }
        rows.append(("model m0 direct", measure(up, "/v2/models/m0/infer", body, args.requests)))
        for d in DELAYS_MS:
            rows.append(
                (
                    f"model m{d} direct",
                    measure(up, f"/v2/models/m{d}/infer", body, args.requests // 4),
                )
            )
        with tempfile.TemporaryDirectory() as tmp:
            for name, nodes in graphs.items():
                path = Path(tmp) / f"{name}.json"
                path.write_text(json.dumps({"name": name, "nodes": nodes}))
                rp = free_port()
                cmd = [
                    py,
                    "-m",
                    "modelplane",
                    "router",
                    "--graph",
                    str(path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(rp),
                    "--log-level",
                    "warning",
                ]
                with process(cmd, rp, "/readyz") as pid:
                    n = args.requests if name == "seq1" else args.requests // 4
                    label = (
                        "router Sequence(m0)" if name == "seq1" else "router Ensemble(m2,m5,m10)"
                    )
                    measure(rp, f"/v2/models/{name}/infer", body, 200)  # warm the pool
                    cpu = cpu_seconds(pid)
                    rows.append((label, measure(rp, f"/v2/models/{name}/infer", body, n)))
                    router_cpu[label] = (cpu_seconds(pid) - cpu) / (n + n // 10) * 1000
    stats = {label: (pct(v, 50), pct(v, 99)) for label, v in rows}
    print(f"\nrouter overhead ({args.requests} requests, {args.payload}-element FP32 input)\n")
    print(f"| {'case':<28} | {'p50 ms':>8} | {'p99 ms':>8} |")
    print(f"| {'-' * 28} | {'-' * 8}:| {'-' * 8}:|")
    for label, (p50, p99) in stats.items():
        print(f"| {label:<28} | {p50:8.3f} | {p99:8.3f} |")
    seq = stats["router Sequence(m0)"][0] - stats["model m0 direct"][0]
    ens = stats["router Ensemble(m2,m5,m10)"][0]
    slowest = stats[f"model m{max(DELAYS_MS)} direct"][0]
    total = sum(stats[f"model m{d} direct"][0] for d in DELAYS_MS)
    print(f"\nrouter overhead, 1-step Sequence, p50: {seq:.3f} ms (target < 1 ms)")
    for label, ms in router_cpu.items():
        print(f"router process CPU per request, {label}: {ms:.3f} ms")
    print(
        f"Ensemble of 3 p50 {ens:.3f} ms vs slowest member {slowest:.3f} ms "
        f"(+{ens - slowest:.3f} ms); sum of members would be {total:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
