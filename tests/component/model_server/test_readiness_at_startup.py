"""Live at once, ready only when every startup model has loaded."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.model_server import server_process, wait_ready
from tests.support.models import onnx_add_sub, python_model

GATED = """
    import time
    from pathlib import Path


    class Model:
        def __init__(self, model_dir: Path) -> None:
            self.gate = model_dir / "go"

        def load(self) -> None:
            deadline = time.monotonic() + 60
            while not self.gate.exists() and time.monotonic() < deadline:
                time.sleep(0.02)

        def predict(self, inputs):
            return inputs
"""


def test_not_ready_until_the_slowest_startup_model_loads(tmp_path: Path) -> None:
    onnx_add_sub(tmp_path / "fast" / "model.onnx")
    python_model(tmp_path / "gated", GATED)
    with server_process("--model-repository", str(tmp_path)) as (_, running):
        assert httpx.get(f"{running.url}/v2/health/live", timeout=5).status_code == 200
        states = _states_once(running.url, "gated", "LOADING")
        ready = httpx.get(f"{running.url}/v2/health/ready", timeout=5)
        (tmp_path / "gated" / "go").write_text("")
        wait_ready(running.url, timeout=30)
        after = _states_once(running.url, "gated", "READY")
    assert states["gated"] == "LOADING"
    assert ready.status_code == 503
    assert ready.json() == {"ready": False, "reason": "model 'gated' is loading"}
    assert after == {"fast": "READY", "gated": "READY"}


def _states_once(url: str, name: str, state: str, timeout: float = 20) -> dict[str, str]:
    """Repository index states, polled (bounded) until `name` is in `state`."""
    deadline = time.monotonic() + timeout
    while True:
        index = httpx.post(f"{url}/v2/repository/index", timeout=5).json()
        states = {m["name"]: m["state"] for m in index}
        if states.get(name) == state or time.monotonic() > deadline:
            return states
        time.sleep(0.02)
