"""A startup model that cannot load says why: in the termination message with --exit-on-load-failure, in readiness without."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from modelplane.operator.pod_reasons import pod_failure
from tests.support.model_server import server_process
from tests.support.models import broken_onnx, onnx_add_sub


def serve_until_exit(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    ports = ("--host", "127.0.0.1", "--http-port", "0", "--grpc-port", "0")
    return subprocess.run(
        [sys.executable, "-m", "modelplane", "serve", *ports, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def logged(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_with_the_flag_the_server_exits_1_and_leaves_the_reason_for_kubernetes(
    tmp_path: Path,
) -> None:
    broken_onnx(tmp_path / "iris" / "model.onnx")
    termination = tmp_path / "termination-log"
    done = serve_until_exit(
        "--model-name", "iris", "--model-dir", str(tmp_path / "iris"),
        "--exit-on-load-failure", "--termination-message-path", str(termination),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    message = termination.read_text()
    assert message.startswith("ModelLoadFailed: iris: "), message
    assert "\n" not in message and len(message.encode()) <= 4096
    errors = [e for e in logged(done.stderr) if e["level"] == "error"]
    assert any(e["msg"] == "exiting: startup model failed to load" for e in errors), done.stderr
    assert any(e.get("reason") == message for e in errors)
    # What the operator makes of it, as it would read it from the pod's lastState.
    terminated = {"exitCode": done.returncode, "message": message}
    container = {"name": "kserve-container", "lastState": {"terminated": terminated}}
    failure = pod_failure({"metadata": {}, "status": {"containerStatuses": [container]}})
    assert failure is not None and failure.reason == "ModelLoadFailed"
    assert failure.message.startswith("iris: ")


def test_with_workers_the_first_worker_to_fail_stops_the_server_with_1(tmp_path: Path) -> None:
    broken_onnx(tmp_path / "repo" / "iris" / "model.onnx")
    termination = tmp_path / "termination-log"
    done = serve_until_exit(
        "--model-repository", str(tmp_path / "repo"), "--workers", "2",
        "--exit-on-load-failure", "--termination-message-path", str(termination),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert termination.read_text().startswith("ModelLoadFailed: iris: ")


def test_an_unusable_repository_exits_with_its_reason(tmp_path: Path) -> None:
    termination = tmp_path / "termination-log"
    done = serve_until_exit(
        "--model-repository", str(tmp_path / "nowhere"),
        "--exit-on-load-failure", "--termination-message-path", str(termination),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert termination.read_text() == (
        f"ModelLoadFailed: model repository {tmp_path / 'nowhere'} is not a directory"
    )


def test_without_the_flag_the_server_stays_up_and_readiness_says_why(tmp_path: Path) -> None:
    onnx_add_sub(tmp_path / "repo" / "good" / "model.onnx")
    broken_onnx(tmp_path / "repo" / "iris" / "model.onnx")
    termination = tmp_path / "termination-log"
    args = ("--model-repository", str(tmp_path / "repo"))
    with server_process(*args, "--termination-message-path", str(termination)) as (
        proc,
        running,
    ):
        ready = _once_failed(running.url)
        iris = httpx.get(f"{running.url}/v2/models/iris/ready", timeout=5)
        good = httpx.get(f"{running.url}/v2/models/good/ready", timeout=5)
        assert proc.poll() is None
    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert ready.json()["reason"].startswith("model 'iris' failed to load: ")
    assert iris.status_code == 503
    assert iris.json()["ready"] is False and "iris" in iris.json()["reason"]
    assert good.status_code == 200 and good.json() == {"name": "good", "ready": True}
    assert not termination.exists()


def _once_failed(url: str, timeout: float = 60) -> httpx.Response:
    """The readiness answer once startup loading has finished (bounded poll)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{url}/v2/health/ready", timeout=5)
        if "failed to load" in answer.json().get("reason", "") or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)
