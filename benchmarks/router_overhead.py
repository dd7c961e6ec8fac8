"""Router overhead: a 1-step Sequence through the router versus calling the model directly,
and an Ensemble of 3 versus its slowest member. Prints a table; asserts nothing.

Every server is a separate process on 127.0.0.1; the client is one keep-alive connection
sending requests back to back, so the client's own cost is the same on both sides of each
comparison. It runs three times: on the machine as it is; with its vCPUs kept awake
(`processes.busy_cpus`), because on a virtual machine waking a halted vCPU costs more than a
hop's own work; and with every process on one CPU (`processes.one_cpu`), where no wakeup
crosses vCPUs and, since processes take turns, a hop costs all the work its process does
per request. Two kinds of upstream: a real ``modelplane serve`` with a small ONNX model (the
1-step Sequence), and a minimal V2 app whose models sleep 2, 5 and 10 ms, each on a thread to
the microsecond (the Ensemble, where members need known, different service times; a 1-step
Sequence to the 10 ms one is a hop at that service time, after the router sat idle). The router's own CPU per request is read from
/proc, which a busy shared machine disturbs far less than wall-clock latency. Pass-throughs
in front of the model server that do no graph work (`router_floors`: Python on the router's
own stack, Go on fasthttp with ``--lean-proxy``, Rust on hyper with ``--lean-proxy-rs``, nginx,
socat) show what a hop costs here on
each kind of stack, and two Ensembles with no graph (in Python on blocking threads, in Rust
on hyper) what an Ensemble of the same members costs here at least. With ``--kserve-router`` (as `make bench-router` runs it), KServe's own
router is measured on the same graphs, in a private network namespace (`router_peers`).

    python -m benchmarks.router_overhead [--requests 2000] [--payload 16] [--kserve-router BIN]
                                         [--lean-proxy BIN] [--lean-proxy-rs BIN]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import router_peers
from benchmarks.router_clients import (
    Client,
    ConcurrentTarget,
    grpc_call,
    interleaved,
    pct,
    rest_call,
)
from benchmarks.router_floors import start_ensemble_floors, start_floors
from benchmarks.router_goals import DIRECT, verdicts
from benchmarks.servers import free_port

DELAYS_MS = (2, 5, 10)  # ensemble members' service times
SEQ_SLOWEST = f"router Sequence(m{max(DELAYS_MS)})"  # one hop to the slowest member alone
THREADS_EDGE = "router REST/REST, threads edge"  # --http-edge threads, beside the default loop
THREADS_GRPC_OUT = "router REST in / gRPC out, threads edge"
ENSEMBLE_THREADS = "router Ensemble, threads edge"


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


def router_logic_us(requests: int) -> float:
    """Microseconds of the router's own work per request: its handler called in-process with
    a transport that answers at once (no sockets, no other processes)."""
    from modelplane.edge.h1server import Request
    from modelplane.router.app import RouterApp
    from modelplane.router.graph import load
    from modelplane.router.settings import RouterSettings
    from modelplane.router.transport import Reply

    answer = json.dumps({"model_name": "m", "outputs": [
        {"name": "y", "datatype": "FP32", "shape": [1, 16], "data": [0.0] * 16}]}).encode()  # fmt: skip

    class Instant:
        async def post(self, url: str, body: bytes, headers: Any, limit: Any = None) -> Reply:
            return Reply(200, answer, b"application/json")

        async def aclose(self) -> None:
            return None

    nodes = {
        "root": {"routerType": "Sequence", "steps": [{"serviceUrl": "http://m/v2/models/m/infer"}]}
    }
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings(), transport=Instant())
    headers = [(b"content-type", b"application/json"), (b"traceparent", b"00-1-2-01")]
    request = Request("POST", "/v2/models/g/infer", b"", headers, v2_body([1, 16]))

    async def run() -> float:
        for _ in range(500):
            await app.handle(request)
        start = time.process_time()
        for _ in range(requests):
            await app.handle(request)
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


@contextlib.contextmanager
def process(cmd: list[str], port: int, ready_path: str, kill: bool = False) -> Iterator[int]:
    """A server for the block in a process group of its own, ended by its PID: SIGTERM to the
    group (a forking server's children too), or SIGKILL (`kill`) for a server whose SIGTERM
    only starts a long drain."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        wait_up(port, ready_path, proc)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        proc.wait(timeout=10)


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


def router_cmd(graph: Path, port: int, grpc_port: int, edge: str = "loop") -> list[str]:
    return [sys.executable, "-m", "modelplane", "router", "--graph", str(graph),
            "--host", "127.0.0.1", "--port", str(port), "--grpc-port", str(grpc_port),
            "--http-edge", edge, "--log-level", "warning"]  # fmt: skip


def kserve_router(binary: str, nodes: dict[str, Any]) -> contextlib.AbstractContextManager[int]:
    """KServe's router on its fixed port (SIGKILL at the end: its SIGTERM sleeps 30 s)."""
    cmd = router_peers.command(binary, nodes)
    return process(cmd, router_peers.PORT, router_peers.READY_PATH, kill=True)


def write_graph(directory: Path, name: str, nodes: Any) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"name": name, "nodes": nodes}))
    return path


def one_step(url: str) -> dict[str, Any]:
    return {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url}]}}


CLIENTS = (1, 16)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--requests", type=int, default=2000, help="timed requests per case")
    p.add_argument("--payload", type=int, default=16, help="FP32 elements in the input tensor")
    p.add_argument("--kserve-router", metavar="BINARY",
                   help="also measure KServe's router (benchmarks/peers/kserve_router.sh builds "
                        "it); the run then moves into a private network namespace")  # fmt: skip
    p.add_argument("--lean-proxy", metavar="BINARY",
                   help="also measure the Go pass-through (benchmarks/peers/lean_proxy.sh "
                        "builds it)")  # fmt: skip
    p.add_argument("--lean-proxy-rs", metavar="BINARY",
                   help="also measure the Rust pass-through (benchmarks/peers/lean_proxy_rs.sh "
                        "builds it)")  # fmt: skip
    args = p.parse_args()
    if args.kserve_router and not router_peers.inside_private_netns():
        status = router_peers.rerun_in_private_netns("benchmarks.router_overhead", sys.argv[1:])
        if status is not None:
            return status
        args.kserve_router = None
    import uvloop

    from benchmarks.processes import busy_cpus, one_cpu

    logic = router_logic_us(5000)  # before the servers start, on its own loop
    peer = args.kserve_router
    print("\n## Pass 1: an otherwise idle machine (its vCPUs halt between requests)")
    uvloop.run(
        measure(args.requests, args.payload, logic, peer, args.lean_proxy, args.lean_proxy_rs)
    )
    print("\n## Pass 2: vCPUs kept awake (one nice-19 spinner per CPU, as on a loaded machine)")
    with busy_cpus():
        uvloop.run(
            measure(args.requests, args.payload, logic, peer, args.lean_proxy, args.lean_proxy_rs)
        )
    with one_cpu() as cpu:
        print(f"\n## Pass 3: every process on CPU {cpu} (no wakeup crosses vCPUs; a hop costs "
              "all the work its process does per request)")  # fmt: skip
        uvloop.run(
            measure(args.requests, args.payload, logic, peer, args.lean_proxy, args.lean_proxy_rs)
        )
    return 0


async def measure(
    n: int,
    width: int,
    logic: float,
    kserve: str | None,
    lean_proxy: str | None,
    lean_proxy_rs: str | None,
) -> None:
    import aiohttp
    import grpc

    py = sys.executable
    with tempfile.TemporaryDirectory() as name, contextlib.ExitStack() as stack:
        tmp = Path(name)
        onnx_identity(tmp / "ident", width)
        sp, sg, up = free_port(), free_port(), free_port()
        serve = [py, "-m", "modelplane", "serve", "--model-name", "ident", "--model-dir",
                 str(tmp / "ident"), "--host", "127.0.0.1", "--http-port", str(sp),
                 "--grpc-port", str(sg), "--log-level", "warning"]  # fmt: skip
        server_pid = stack.enter_context(process(serve, sp, "/v2/health/ready"))
        stack.enter_context(
            process(
                [py, "-m", "benchmarks.router_servers", "upstream", str(up)], up, "/v2/models/m0/x"
            )
        )
        infer = "/v2/models/ident/infer"
        rest_url, grpc_url = (
            f"http://127.0.0.1:{sp}{infer}",
            f"grpc://127.0.0.1:{sg}/v2/models/ident",
        )
        floors = start_floors(stack, process, tmp, sp, infer, lean_proxy, lean_proxy_rs)
        routers: dict[str, tuple[int, int, int]] = {}  # graph -> (http port, grpc port, pid)
        ens = {"root": {"routerType": "Ensemble", "steps": [
            {"name": f"m{d}", "serviceUrl": f"http://127.0.0.1:{up}/v2/models/m{d}/infer"}
            for d in DELAYS_MS]}}  # fmt: skip
        slowest_url = f"http://127.0.0.1:{up}/v2/models/m{max(DELAYS_MS)}/infer"
        # the routers on the default HTTP edge (the event loop); "-threads" ones beside them
        for graph, nodes, edge in (
            ("viarest", one_step(rest_url), "loop"),
            ("viagrpc", one_step(grpc_url), "loop"),
            ("ens3", ens, "loop"),
            ("seqslow", one_step(slowest_url), "loop"),
            ("viarest-threads", one_step(rest_url), "threads"),
            ("viagrpc-threads", one_step(grpc_url), "threads"),
            ("ens3-threads", ens, "threads"),
        ):
            hp, gp = free_port(), free_port()
            cmd = router_cmd(write_graph(tmp, graph, nodes), hp, gp, edge)
            pid = stack.enter_context(process(cmd, hp, "/readyz"))
            routers[graph] = (hp, gp, pid)

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        channels = {port: grpc.aio.insecure_channel(f"127.0.0.1:{port}")
                    for port in (sg, routers["viarest"][1], routers["viagrpc"][1])}  # fmt: skip
        body = v2_body([1, width])
        (hp_rest, gp_rest, pid_rest), (hp_grpc, gp_grpc, pid_grpc) = (
            routers["viarest"], routers["viagrpc"])  # fmt: skip
        hop_cases = [
            Client("direct REST", rest_call(session, rest_url, body), server_pid),
            Client("direct gRPC", grpc_call(channels[sg], "ident", width), server_pid),
            Client("router REST in / REST out", rest_call(
                session, f"http://127.0.0.1:{hp_rest}/v2/models/viarest/infer", body), pid_rest),
            Client("router gRPC in / gRPC out",
                   grpc_call(channels[gp_grpc], "viagrpc", width), pid_grpc),
            Client("router REST in / gRPC out", rest_call(
                session, f"http://127.0.0.1:{hp_grpc}/v2/models/viagrpc/infer", body), pid_grpc),
            Client("router gRPC in / REST out",
                   grpc_call(channels[gp_rest], "viarest", width), pid_rest),
            Client(THREADS_EDGE, rest_call(session, f"http://127.0.0.1:"
                   f"{routers['viarest-threads'][0]}/v2/models/viarest-threads/infer", body),
                   routers["viarest-threads"][2]),
            Client(THREADS_GRPC_OUT, rest_call(session, f"http://127.0.0.1:"
                   f"{routers['viagrpc-threads'][0]}/v2/models/viagrpc-threads/infer", body),
                   routers["viagrpc-threads"][2]),
            *(Client(floor.label, rest_call(session, f"http://127.0.0.1:{floor.port}{infer}",
                                            body), floor.pid) for floor in floors),
        ]  # fmt: skip
        peer = f"KServe router {router_peers.version()}"
        kserve_url = f"http://127.0.0.1:{router_peers.PORT}/"
        with contextlib.ExitStack() as hop_stack:
            if kserve:
                pid = hop_stack.enter_context(kserve_router(kserve, one_step(rest_url)))
                hop_cases.append(Client(peer, rest_call(session, kserve_url, body), pid))
            for clients in CLIENTS:
                await interleaved(hop_cases, n, clients)

        n_ens = max(n // 4, 100)
        members = [Client(f"model m{d} direct", rest_call(
            session, f"http://127.0.0.1:{up}/v2/models/m{d}/infer", v2_body([width])))
            for d in DELAYS_MS]  # fmt: skip
        urls = [f"http://127.0.0.1:{up}/v2/models/m{d}/infer" for d in DELAYS_MS]
        together = Client(
            "all 3 at once, no router", ConcurrentTarget(session, urls, v2_body([width]))
        )
        ensemble = Client("router Ensemble(m2,m5,m10)", rest_call(
            session, f"http://127.0.0.1:{routers['ens3'][0]}/v2/models/ens3/infer",
            v2_body([width])))  # fmt: skip
        hop_to_slowest = Client(SEQ_SLOWEST, rest_call(
            session, f"http://127.0.0.1:{routers['seqslow'][0]}/v2/models/seqslow/infer",
            v2_body([width])))  # fmt: skip
        ensemble_threads = Client(ENSEMBLE_THREADS, rest_call(
            session, f"http://127.0.0.1:{routers['ens3-threads'][0]}/v2/models/ens3-threads/infer",
            v2_body([width])))  # fmt: skip
        ensembles = [ensemble, hop_to_slowest, ensemble_threads]
        with contextlib.ExitStack() as ens_stack:
            if kserve:
                pid = ens_stack.enter_context(kserve_router(kserve, ens))
                ensembles.append(Client(f"KServe {router_peers.version()} Ensemble", rest_call(
                    session, kserve_url, v2_body([width])), pid))  # fmt: skip
            paths = [f"/v2/models/m{d}/infer" for d in sorted(DELAYS_MS, reverse=True)]
            for floor in start_ensemble_floors(ens_stack, process, up, paths, lean_proxy_rs):
                ensembles.append(Client(floor.label, rest_call(
                    session, f"http://127.0.0.1:{floor.port}/x", v2_body([width])), floor.pid))  # fmt: skip
            await interleaved([*members, together, *ensembles], n_ens, 1)
        await session.close()
        for channel in channels.values():
            await channel.close()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nrouter overhead: about {n} requests per case and client count, {width}-element "
          f"FP32 input, {os.cpu_count()} CPUs, load average {load:.1f}\n")  # fmt: skip
    print(f"| {'case':<28} | clients | {'p50 ms':>8} | {'p99 ms':>8} | {'hop p50':>8} |")
    print(f"| {'-' * 28} | ------: | {'-' * 8}:| {'-' * 8}:| {'-' * 8}:|")
    p50 = {}
    for clients in CLIENTS:
        for case in hop_cases:
            lat = case.latencies[clients]
            p50[case.label, clients] = pct(lat, 50)
        for case in hop_cases:
            lat = case.latencies[clients]
            base = "direct gRPC" if case.label.startswith("router gRPC") else "direct REST"
            hop = "" if case.label.startswith("direct") else \
                f"{p50[case.label, clients] - p50[base, clients]:+8.3f}"  # fmt: skip
            print(f"| {case.label:<28} | {clients:7d} | {pct(lat, 50):8.3f} | {pct(lat, 99):8.3f} "
                  f"| {hop:>8} |")  # fmt: skip
    print("\nCPU per request of the serving process (the model server for direct calls):")
    for case in hop_cases:
        if case.pid:
            print(f"  {case.label:<28} {case.cpu / case.sent * 1000:.3f} ms")
    print(f"router's own work per request (in-process REST, no sockets): {logic:.0f} us CPU")
    stats = {c.label: (pct(c.latencies[1], 50), pct(c.latencies[1], 99))
             for c in [*members, together, *ensembles]}  # fmt: skip
    print()
    for label, (a, b) in stats.items():
        print(f"| {label:<28} | {1:7d} | {a:8.3f} | {b:8.3f} | {'':>8} |")
    ens_p50 = stats["router Ensemble(m2,m5,m10)"][0]
    slowest = stats[f"model m{max(DELAYS_MS)} direct"][0]
    total = sum(stats[f"model m{d} direct"][0] for d in DELAYS_MS)
    print(
        f"Ensemble of 3 p50 {ens_p50:.3f} ms vs slowest member {slowest:.3f} ms "
        f"(+{ens_p50 - slowest:.3f} ms); sum of members would be {total:.3f} ms; the client "
        f"calling all 3 at once itself {stats['all 3 at once, no router'][0]:.3f} ms"
    )
    one_hop = stats[SEQ_SLOWEST][0] - slowest
    print(f"{SEQ_SLOWEST} (one hop at this service time) p50 {stats[SEQ_SLOWEST][0]:.3f} ms "
          f"(+{one_hop:.3f} ms)")  # fmt: skip
    threads = stats[ENSEMBLE_THREADS][0]
    print(f"{ENSEMBLE_THREADS} (--http-edge threads) p50 {threads:.3f} ms "
          f"(+{threads - slowest:.3f} ms)")  # fmt: skip
    for other in ensembles[3:]:  # KServe's, then the floors (no graph)
        theirs = stats[other.label][0]
        print(f"{other.label} p50 {theirs:.3f} ms (+{theirs - slowest:.3f} ms)")
    hops = {label: value - p50["direct gRPC" if label.startswith("router gRPC") else DIRECT, 1]
            for (label, clients), value in p50.items()
            if clients == 1 and not label.startswith("direct")}  # fmt: skip
    cpu = {c.label: c.cpu / c.sent * 1000 for c in hop_cases if c.pid and c.sent}
    print("\nGoals, this pass:")
    others = {label: stats[label][0] - slowest for label in [c.label for c in ensembles[2:]]}
    for line in verdicts(hops, cpu, ens_p50 - slowest, one_hop, others):
        print(f"  {line}")


if __name__ == "__main__":
    raise SystemExit(main())
