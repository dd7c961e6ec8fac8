"""SIGTERM: readiness goes false at once, the in-flight request finishes, then the process exits 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from tests.support.model_server import server_process, wait_ready
from tests.support.models import python_model

SLOW = """
    import time
    from pathlib import Path


    class Model:
        def __init__(self, model_dir: Path) -> None:
            self.marker = model_dir / "started"

        def predict(self, inputs):
            self.marker.write_text("x")
            time.sleep(2.0)
            return {"y": inputs["x"] * 2}
"""


def _wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def _ready_after_signal(url: str, within: float) -> httpx.Response:
    """The first /v2/health/ready answer that is not 200, polled for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        response = httpx.get(f"{url}/v2/health/ready", timeout=5)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.02)


def test_sigterm_drains_in_flight_requests_then_exits(tmp_path: Path) -> None:
    python_model(tmp_path / "slow", SLOW)
    args = ("--model-name", "slow", "--model-dir", str(tmp_path / "slow"), "--drain-seconds", "1.5")
    with server_process(*args) as (proc, running):
        wait_ready(running.url)
        replies: list[httpx.Response] = []
        body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [21]}]}
        client = threading.Thread(
            target=lambda: replies.append(
                httpx.post(f"{running.url}/v2/models/slow/infer", json=body, timeout=30)
            )
        )
        client.start()
        _wait_for(tmp_path / "slow" / "started", timeout=20)
        proc.send_signal(signal.SIGTERM)
        ready = _ready_after_signal(running.url, within=1.0)
        live = httpx.get(f"{running.url}/v2/health/live", timeout=5)
        client.join(timeout=30)
        code = proc.wait(timeout=30)
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "reason": "shutting down"}
    assert live.status_code == 200
    assert replies and replies[0].status_code == 200
    assert replies[0].json()["outputs"][0]["data"] == [42.0]
    assert code == 0
