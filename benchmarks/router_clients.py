"""The clients `benchmarks.router_overhead` times: one case is an async call repeated back to
back by N concurrent clients (REST over aiohttp, gRPC over grpc.aio), with the serving
process's CPU read from /proc around it; cases alternate in rounds."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc), 0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One case to time: an async call on its own connections (REST: aiohttp; gRPC: grpc.aio)."""

    def __init__(self, label: str, call: Any, pid: int | None = None) -> None:
        self.label, self.call, self.pid = label, call, pid
        self.latencies: dict[int, list[float]] = {}
        self.cpu = 0.0  # seconds of the serving process (pid) while this case ran
        self.sent = 0

    async def run(self, n: int, clients: int, keep: bool = True) -> None:
        """n requests from `clients` concurrent clients, each sending back to back."""
        out = self.latencies.setdefault(clients, [])
        per_client = max(n // clients, 1)
        before = cpu_seconds(self.pid) if self.pid else 0.0
        try:
            await self._run(out, per_client, clients, keep)
        finally:
            if self.pid:
                self.cpu += cpu_seconds(self.pid) - before
            self.sent += per_client * clients

    async def _run(self, out: list[float], per_client: int, clients: int, keep: bool) -> None:

        async def one_client() -> None:
            for _ in range(per_client):
                start = time.perf_counter()
                await self.call()
                if keep:
                    out.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(one_client() for _ in range(clients)))


def rest_call(session: Any, url: str, body: bytes) -> Any:
    headers = {"content-type": "application/json"}

    async def call() -> None:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"POST {url} answered {response.status}")

    return call


def grpc_call(channel: Any, model: str, width: int) -> Any:
    """ModelInfer with the input in raw contents, serialized once (the client's cost is flat)."""
    import numpy as np

    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb

    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="x", datatype="FP32", shape=[1, width])
    request.raw_input_contents.append(np.arange(width, dtype=np.float32).tobytes())
    data = request.SerializeToString()
    method = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")

    async def call() -> None:
        await method(data)

    return call


class ConcurrentTarget:
    """The Ensemble's floor: the client itself calls several models at once (aiohttp)."""

    def __init__(self, session: Any, urls: list[str], body: bytes) -> None:
        self.calls = [rest_call(session, u, body) for u in urls]

    async def __call__(self) -> None:
        await asyncio.gather(*(c() for c in self.calls))


async def interleaved(cases: list[Client], n: int, clients: int, rounds: int = 10) -> None:
    """n requests per case, sent in alternating rounds so all see the same machine load."""
    for case in cases:
        await case.run(max(n // 10, 2 * clients), clients, keep=False)  # warm-up: pools, caches
    for _ in range(rounds):
        for case in cases:
            await case.run(max(n // rounds, clients), clients)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
