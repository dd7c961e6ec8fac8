"""Router overhead: a 1-step Sequence through the router versus calling the model directly,
and an Ensemble of 3 versus its slowest member. Prints a table; asserts nothing.

Every server is a separate process on 127.0.0.1; the client is one keep-alive connection
sending requests back to back, so the client's own cost is the same on both sides of each
comparison. Two kinds of upstream: a real ``modelplane serve`` with a small ONNX model (the
1-step Sequence), and a minimal V2 app whose models sleep 2, 5 and 10 ms (the Ensemble, where
members need known, different service times). The router's own CPU per request is read from
/proc, which a busy shared machine disturbs far less than wall-clock latency.

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


def onnx_identity(directory: Path, width: int) -> None:
    """A tiny ONNX model: x [-1, width] FP32 -> y = x + 0."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    zero = numpy_helper.from_array(__import__("numpy").zeros(width, dtype="float32"), "zero")
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "zero"], ["y"])],
        "ident",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, width])],
        initializer=[zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(directory / "model.onnx"))


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


def proxy_app(target: str) -> Any:
    """The floor: a bare pass-through proxy on the router's stack (uvicorn + one aiohttp session)."""
    import aiohttp

    session: list[aiohttp.ClientSession] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not session:
            session.append(aiohttp.ClientSession())
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        async with session[0].post(target, data=body, headers=headers) as response:
            answer = await response.read()
        start = {"type": "http.response.start", "status": response.status,
                 "headers": [(b"content-type", b"application/json")]}  # fmt: skip
        await send(start)
        await send({"type": "http.response.body", "body": answer})

    return app


def router_logic_us(requests: int) -> float:
    """Microseconds of the router's own work per request: its ASGI app called in-process with
    a transport that answers at once (no sockets, no other processes)."""
    from modelplane.router.app import RouterApp
    from modelplane.router.graph import load
    from modelplane.router.settings import RouterSettings
    from modelplane.router.transport import Reply

    answer = json.dumps({"model_name": "m", "outputs": [
        {"name": "y", "datatype": "FP32", "shape": [1, 16], "data": [0.0] * 16}]}).encode()  # fmt: skip

    class Instant:
        async def post(self, url: str, body: bytes, headers: Any) -> Reply:
            return Reply(200, answer, b"application/json")

        async def aclose(self) -> None:
            return None

    nodes = {
        "root": {"routerType": "Sequence", "steps": [{"serviceUrl": "http://m/v2/models/m/infer"}]}
    }
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings(), transport=Instant())
    body = v2_body([1, 16])
    scope = {"type": "http", "method": "POST", "path": "/v2/models/g/infer",
             "headers": [(b"content-type", b"application/json"), (b"traceparent", b"00-1-2-01")]}  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run() -> float:
        for _ in range(500):
            await app(scope, receive, send)
        start = time.process_time()
        for _ in range(requests):
            await app(scope, receive, send)
        return (time.process_time() - start) / requests * 1e6

    return asyncio.run(run())


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


class Target:
    """One thing to time: a port, a path and a body, on its own keep-alive connection."""

    def __init__(self, label: str, port: int, path: str, body: bytes) -> None:
        self.label, self.path, self.body = label, path, body
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.latencies: list[float] = []

    def send(self, n: int, keep: bool = True) -> None:
        headers = {"content-type": "application/json"}
        for _ in range(n):
            start = time.perf_counter()
            self.conn.request("POST", self.path, self.body, headers)
            response = self.conn.getresponse()
            response.read()
            took = (time.perf_counter() - start) * 1000
            if response.status != 200:
                raise SystemExit(f"POST {self.path} answered {response.status}")
            if keep:
                self.latencies.append(took)


class ConcurrentTarget:
    """The Ensemble's floor: the client itself calls several models at once (aiohttp)."""

    def __init__(self, label: str, urls: list[str], body: bytes) -> None:
        import aiohttp

        self.label, self.urls, self.body = label, urls, body
        self.latencies: list[float] = []
        self.loop = asyncio.new_event_loop()

        async def open_session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession()

        self.session = self.loop.run_until_complete(open_session())

    async def _one(self, url: str) -> None:
        headers = {"content-type": "application/json"}
        async with self.session.post(url, data=self.body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"POST {url} answered {response.status}")

    async def _rounds(self, n: int, keep: bool) -> None:
        for _ in range(n):
            start = time.perf_counter()
            await asyncio.gather(*(self._one(u) for u in self.urls))
            if keep:
                self.latencies.append((time.perf_counter() - start) * 1000)

    def send(self, n: int, keep: bool = True) -> None:
        self.loop.run_until_complete(self._rounds(n, keep))

    def close(self) -> None:
        self.loop.run_until_complete(self.session.close())
        self.loop.close()


def interleaved(targets: list[Any], n: int, rounds: int = 10) -> None:
    """n requests per target, sent in alternating rounds so all see the same machine load."""
    for t in targets:
        t.send(max(n // 10, 20), keep=False)  # warm-up: pools, caches, JIT-free paths
    for _ in range(rounds):
        for t in targets:
            t.send(max(n // rounds, 1))


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def v2_body(shape: list[int]) -> bytes:
    count = 1
    for dim in shape:
        count *= dim
    tensor = {
        "name": "x",
        "datatype": "FP32",
        "shape": shape,
        "data": [float(i) for i in range(count)],
    }
    return json.dumps({"inputs": [tensor]}).encode()


def router_cmd(graph: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "modelplane", "router", "--graph", str(graph),
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip


def write_graph(directory: Path, name: str, nodes: Any) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"name": name, "nodes": nodes}))
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=2000, help="timed requests per case")
    p.add_argument("--payload", type=int, default=16, help="FP32 elements in the input tensor")
    p.add_argument("--upstream", type=int, help=argparse.SUPPRESS)  # child mode: serve on port
    p.add_argument("--proxy", nargs=2, metavar=("PORT", "TARGET"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.proxy:
        import uvicorn

        uvicorn.run(proxy_app(args.proxy[1]), host="127.0.0.1", port=int(args.proxy[0]),
                    log_level="warning", access_log=False, http="httptools", loop="uvloop",
                    lifespan="off")  # fmt: skip
        return 0
    if args.upstream:
        import uvicorn

        uvicorn.run(upstream_app(), host="127.0.0.1", port=args.upstream, log_level="warning",
                    access_log=False, http="httptools", loop="uvloop", lifespan="off")  # fmt: skip
        return 0

    py, n = sys.executable, args.requests
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        onnx_identity(tmp / "ident", args.payload)
        sp, up, r1, r3, pp = free_port(), free_port(), free_port(), free_port(), free_port()
        serve = [py, "-m", "modelplane", "serve", "--model-name", "ident", "--model-dir",
                 str(tmp / "ident"), "--host", "127.0.0.1", "--http-port", str(sp),
                 "--grpc-port", "-1", "--log-level", "warning"]  # fmt: skip
        stack.enter_context(process(serve, sp, "/v2/health/ready"))
        stack.enter_context(process([py, __file__, "--upstream", str(up)], up, "/v2/models/m0/x"))
        infer = "/v2/models/ident/infer"
        seq = {"root": {"routerType": "Sequence",
                        "steps": [{"serviceUrl": f"http://127.0.0.1:{sp}{infer}"}]}}  # fmt: skip
        ens = {"root": {"routerType": "Ensemble", "steps": [
            {"name": f"m{d}", "serviceUrl": f"http://127.0.0.1:{up}/v2/models/m{d}/infer"}
            for d in DELAYS_MS]}}  # fmt: skip
        stack.enter_context(
            process([py, __file__, "--proxy", str(pp), f"http://127.0.0.1:{sp}{infer}"], pp, "/x")
        )
        pid1 = stack.enter_context(
            process(router_cmd(write_graph(tmp, "seq1", seq), r1), r1, "/readyz")
        )
        pid3 = stack.enter_context(
            process(router_cmd(write_graph(tmp, "ens3", ens), r3), r3, "/readyz")
        )

        onnx_body, body = v2_body([1, args.payload]), v2_body([args.payload])
        direct = Target("onnx model direct", sp, infer, onnx_body)
        routed = Target("router Sequence(onnx)", r1, "/v2/models/seq1/infer", onnx_body)
        floor = Target("bare proxy (floor)", pp, "/", onnx_body)
        before = cpu_seconds(pid1)
        interleaved([direct, routed, floor], n)
        cpu[routed.label] = (cpu_seconds(pid1) - before) / len(routed.latencies) * 1000

        n_ens = max(n // 4, 100)
        members = [
            Target(f"model m{d} direct", up, f"/v2/models/m{d}/infer", body) for d in DELAYS_MS
        ]
        ensemble = Target("router Ensemble(m2,m5,m10)", r3, "/v2/models/ens3/infer", body)
        urls = [f"http://127.0.0.1:{up}/v2/models/m{d}/infer" for d in DELAYS_MS]
        together = ConcurrentTarget("all 3 at once, no router", urls, body)
        before = cpu_seconds(pid3)
        interleaved([*members, together, ensemble], n_ens)
        together.close()
        cpu[ensemble.label] = (cpu_seconds(pid3) - before) / len(ensemble.latencies) * 1000

    rows = [direct, routed, floor, *members, together, ensemble]
    logic = router_logic_us(5000)
    stats = {t.label: (pct(t.latencies, 50), pct(t.latencies, 99)) for t in rows}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nrouter overhead: {n} requests per 1-step case, {n_ens} per Ensemble case, "
          f"{args.payload}-element FP32 input, {os.cpu_count()} CPUs, load average {load:.1f}\n")  # fmt: skip
    print(f"| {'case':<28} | {'p50 ms':>8} | {'p99 ms':>8} |")
    print(f"| {'-' * 28} | {'-' * 8}:| {'-' * 8}:|")
    for label, (p50, p99) in stats.items():
        print(f"| {label:<28} | {p50:8.3f} | {p99:8.3f} |")
    seq = stats["router Sequence(onnx)"][0] - stats["onnx model direct"][0]
    seq99 = stats["router Sequence(onnx)"][1] - stats["onnx model direct"][1]
    ens = stats["router Ensemble(m2,m5,m10)"][0]
    slowest = stats[f"model m{max(DELAYS_MS)} direct"][0]
    total = sum(stats[f"model m{d} direct"][0] for d in DELAYS_MS)
    print(
        f"\nrouter overhead, 1-step Sequence: p50 +{seq:.3f} ms (target < 1 ms), p99 +{seq99:.3f} ms"
    )
    gap = stats["bare proxy (floor)"][0] - stats["onnx model direct"][0]
    print(f"bare pass-through proxy on the same stack (uvicorn + aiohttp): p50 +{gap:.3f} ms")
    print(f"router's own work per request (in-process, no sockets): {logic:.0f} us CPU")
    for label, ms in cpu.items():
        print(f"router process CPU per request, {label}: {ms:.3f} ms")
    both = stats["all 3 at once, no router"][0]
    print(f"the client calling all 3 at once itself (no router): p50 {both:.3f} ms")
    print(
        f"Ensemble of 3 p50 {ens:.3f} ms vs slowest member {slowest:.3f} ms "
        f"(+{ens - slowest:.3f} ms); sum of members would be {total:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
