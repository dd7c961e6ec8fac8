"""Triton's perf_analyzer, unmodified, measures `modelplane serve` over HTTP and gRPC."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import perf_analyzer
from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub, write_model_yaml

SHAPES = {"INPUT0": [1, 16], "INPUT1": [1, 16]}


@pytest.fixture(scope="module")
def exe() -> Path:
    path = perf_analyzer.binary()
    if path is None:
        pytest.skip("perf_analyzer is not installed: run `make perf-analyzer` (make test does)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("repo")
    onnx_add_sub(root / "simple" / "model.onnx", "INT32", 16)
    onnx_add_sub(root / "batched" / "model.onnx", "INT32", 16)
    write_model_yaml(root / "batched", max_batch_size=8, batching={"max_queue_delay_us": 500})
    with server_in_thread(model_repository=root) as running:
        yield running


@pytest.mark.parametrize("protocol", ["http", "grpc", "grpc-streaming"])
def test_perf_analyzer_measures_simple(exe: Path, server: RunningServer, protocol: str) -> None:
    target = server.http_target if protocol == "http" else server.grpc_target
    streaming = protocol == "grpc-streaming"
    cell = perf_analyzer.run(
        exe, target, protocol.removesuffix("-streaming"), "simple", 2, SHAPES,
        requests=50, timeout=60, streaming=streaming,
    )  # fmt: skip
    assert cell.rps > 0
    assert 0 < cell.p50_ms <= cell.p99_ms


def test_perf_analyzer_reads_the_servers_own_statistics(exe: Path, server: RunningServer) -> None:
    # Without -f, perf_analyzer prints the server-side split it computed from our statistics
    # extension; it aborts when those counters disagree with each other.
    done = subprocess.run(
        [
            str(exe),
            "-m",
            "simple",
            "-u",
            server.grpc_target,
            "-i",
            "grpc",
            "--shape",
            "INPUT0:1,16",
            "--shape",
            "INPUT1:1,16",
            "--measurement-mode",
            "count_windows",
            "--measurement-request-count",
            "50",
            "--stability-percentage",
            "1000",
            "--max-trials",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Server: " in done.stdout
    assert "compute infer" in done.stdout


def test_perf_analyzer_measures_a_batched_model(exe: Path, server: RunningServer) -> None:
    # Its config says dims [16] with max_batch_size 8: perf_analyzer needs no --shape, and
    # the batched compute counts must still agree (one per request, as Triton counts them).
    cell = perf_analyzer.run(exe, server.grpc_target, "grpc", "batched", 4, {}, requests=50)
    assert cell.rps > 0
    done = subprocess.run(
        [
            str(exe),
            "-m",
            "batched",
            "-u",
            server.http_target,
            "-b",
            "2",
            "--concurrency-range",
            "4",
            "--measurement-mode",
            "count_windows",
            "--measurement-request-count",
            "50",
            "--stability-percentage",
            "1000",
            "--max-trials",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Batch size: 2" in done.stdout


def test_its_csv_report_is_read_as_milliseconds() -> None:
    text = (
        "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,"
        "Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,"
        "p50 latency,p90 latency,p95 latency,p99 latency\n"
        "1,1214.74,45,616,68,16,49,24,0,441,1723,3444,6309\n"
    )
    cell = perf_analyzer.parse(text)
    assert cell == perf_analyzer.PerfCell(rps=1214.74, p50_ms=0.441, p90_ms=1.723, p99_ms=6.309)
