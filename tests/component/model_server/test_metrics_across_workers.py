"""Metrics of several worker processes add up in one scrape (prometheus multiprocess files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

WORKER = """
import sys
from modelplane.model_server.metrics import ServerMetrics
metrics = ServerMetrics()
for _ in range(3):
    metrics.end("iris", "1", "grpc", True, metrics.begin("iris"))
metrics.begin("iris")  # one request stays in flight
metrics.set_model_state("iris", "ready")
print("ready", flush=True)
sys.stdin.read()  # live until the test closes stdin
"""


def scrape(directory: Path) -> dict[str, float]:
    code = (
        "from modelplane.model_server.metrics import ServerMetrics\n"
        "import sys; sys.stdout.write(ServerMetrics().exposition()[0].decode())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    text = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name
            if s.name == "modelplane_inference_requests_total":
                key += ":" + s.labels["outcome"]
            if s.name == "modelplane_model_state":
                key += ":" + s.labels["state"]
            if s.name == "process_cpu_seconds_total":
                key += ":" + s.labels["pid"]
            found[key] = found.get(key, 0.0) + s.value
    return found


@pytest.mark.slow
def test_two_workers_counts_add_up_and_an_exited_worker_leaves_the_live_gauges(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline() == b"ready\n"
        got = scrape(tmp_path)
        assert got["modelplane_inference_requests_total:success"] == 6
        assert got["modelplane_inference_in_flight"] == 2
        assert got["modelplane_model_state:ready"] == 2
        assert {f"process_cpu_seconds_total:{w.pid}" for w in workers} <= got.keys()

        first = workers[0]
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=30)
        env_code = (
            "from modelplane.model_server.worker_metrics import worker_exited\n"
            f"worker_exited({first.pid})\n"
        )
        subprocess.run([sys.executable, "-c", env_code], env=env, check=True, timeout=60)
        got = scrape(tmp_path)
        assert got["modelplane_inference_requests_total:success"] == 6  # counts survive
        assert got["modelplane_inference_in_flight"] == 1
        assert f"process_cpu_seconds_total:{first.pid}" not in got
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(timeout=30)
