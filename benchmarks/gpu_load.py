"""Closed-loop HTTP load for the GPU benchmark: N clients, each one request at a time, bounded in time.

Requests use the V2 binary tensor extension (a JSON header, then the raw FP32 image), since a
224x224 image as JSON numbers would measure the JSON codec, not the model. The clients are
spread over a few processes (aiohttp, one connection each), so that the load generator is not
one Python thread; each records the latency of every request that ends inside the measured
window, after a warm-up. `wrk` is not on the GPU machine, hence this.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

HEADER = "Inference-Header-Content-Length"


@dataclass(frozen=True)
class Load:
    """What one load cell measured."""

    clients: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def binary_request(
    input_name: str, output_name: str, array: np.ndarray[Any, Any]
) -> tuple[bytes, int]:
    """A V2 infer body (JSON header then the input's bytes, the output asked in binary) and
    the header's length, for `Inference-Header-Content-Length`."""
    raw = np.ascontiguousarray(array, dtype=np.float32).tobytes()
    header = {
        "inputs": [
            {
                "name": input_name,
                "shape": list(array.shape),
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        "outputs": [{"name": output_name, "parameters": {"binary_data": True}}],
    }
    encoded = json.dumps(header).encode()
    return encoded + raw, len(encoded)


def decode_output(body: bytes, header_bytes: int, output_name: str) -> np.ndarray[Any, Any]:
    """The named FP32 output of a binary V2 response."""
    header = json.loads(body[:header_bytes])
    offset = header_bytes
    for output in header["outputs"]:
        size = int(output["parameters"]["binary_data_size"])
        if output["name"] == output_name:
            data = np.frombuffer(body[offset : offset + size], dtype=np.float32)
            return data.reshape(output["shape"])
        offset += size
    raise ValueError(f"no output {output_name!r} in the response")


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank); 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def run_load(
    url: str,
    body: bytes,
    header_bytes: int,
    clients: int,
    seconds: float,
    warmup: float,
    processes: int,
) -> Load:
    """`clients` closed-loop clients over `processes` processes; figures from the measured window.

    The processes meet at a barrier once started, then warm up and measure for the same window.
    """
    processes = max(1, min(processes, clients))
    shares = [
        clients // processes + (1 if i < clients % processes else 0) for i in range(processes)
    ]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    queue = context.Queue()
    workers = [
        context.Process(
            target=_client_process,
            args=(url, body, header_bytes, share, warmup, seconds, barrier, queue),
            daemon=True,
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    try:
        parts = [queue.get(timeout=warmup + seconds + 120) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    latencies = [lat for part in parts for lat in part[0]]
    errors = sum(part[1] for part in parts)
    return Load(
        clients=clients,
        seconds=seconds,
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / seconds,
        p50_ms=statistics.median(latencies) * 1000 if latencies else 0.0,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


def _client_process(
    url: str,
    body: bytes,
    header_bytes: int,
    clients: int,
    warmup: float,
    seconds: float,
    barrier: Any,
    queue: Any,
) -> None:
    import aiohttp  # noqa: F401  (imported before the barrier, so not inside the window)

    barrier.wait(timeout=120)
    start = time.monotonic() + warmup
    queue.put(asyncio.run(_clients(url, body, header_bytes, clients, (start, start + seconds))))


async def _clients(
    url: str,
    body: bytes,
    header_bytes: int,
    clients: int,
    window: tuple[float, float],
) -> tuple[list[float], int]:
    import aiohttp

    latencies: list[float] = []
    errors = [0]
    headers = {HEADER: str(header_bytes), "Content-Type": "application/octet-stream"}
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            while True:
                sent = time.monotonic()
                if sent >= window[1]:
                    return
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                done = time.monotonic()
                if window[0] <= done <= window[1]:  # completions inside the window
                    if ok:
                        latencies.append(done - sent)
                    else:
                        errors[0] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors[0]
