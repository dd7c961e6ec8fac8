"""`modelplane run` as a user drives it: start, paste the printed curl commands, Ctrl-C, nothing left.

The bundled sample (`make run`): two ONNX models served alone and as a Sequence graph.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from modelplane.local import sample

READY_LINE = "Ctrl-C stops everything."
START_TIMEOUT = 120.0


def descendants(pid: int) -> set[int]:
    """Every live process below pid, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Run:
    """A `modelplane run` subprocess whose output lines are collected by a thread."""

    def __init__(self, *args: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "modelplane", "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str, timeout: float) -> list[str]:
        """Lines up to the one equal to text; fails with the output when it does not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            self.output.append(line)
            if line.strip() == text:
                return self.output
        pytest.fail(f"no {text!r} line; output:\n" + "\n".join(self.output[-40:]))


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    yaml_path = sample.write_sample(tmp_path)
    started = Run("-f", str(yaml_path))
    try:
        yield started
    finally:
        if started.popen.poll() is None:
            started.popen.kill()
            started.popen.wait(timeout=30)


def send(command: str) -> dict[str, object]:
    """Run a printed curl command with curl when it is installed, else the same POST with httpx."""
    if shutil.which("curl"):
        out = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
        )
        result: dict[str, object] = json.loads(out.stdout)
        return result
    words = shlex.split(command)
    body = words[words.index("-d") + 1]
    response = httpx.post(words[2], content=body, headers={"content-type": "application/json"})
    result = response.json()
    return result


def expected_probabilities(features: list[float]) -> np.ndarray:
    logits = np.array(features) @ np.array(sample.WEIGHTS) + np.array(sample.BIAS)
    exp = np.exp(logits - logits.max())
    return np.asarray(exp / exp.sum())


def test_printed_curls_answer_and_ctrl_c_leaves_no_process(run: Run) -> None:
    output = run.until(READY_LINE, START_TIMEOUT)
    commands = [line.strip() for line in output if line.strip().startswith("curl ")]
    assert len(commands) == 3, output
    by_url = {shlex.split(c)[2]: c for c in commands}

    def command_for(suffix: str) -> str:
        return next(c for url, c in by_url.items() if url.endswith(suffix))

    features = json.loads(shlex.split(commands[0])[-1])["inputs"][0]["data"]
    probabilities = expected_probabilities(features)

    classified = send(command_for("/v2/models/sample-classifier/infer"))
    outputs = classified["outputs"]
    assert isinstance(outputs, list)
    assert np.allclose(outputs[0]["data"], probabilities, atol=1e-5)

    picked = send(command_for("/v2/models/sample-argmax/infer"))
    assert isinstance(picked["outputs"], list)
    assert picked["outputs"][0]["data"] == [2]  # argmax of the printed [0.5, 0.75, 1.0]

    graph_url = next(url for url in by_url if "/v2/" not in url)
    answered = send(by_url[graph_url])
    assert isinstance(answered["outputs"], list)
    assert answered["outputs"][0]["name"] == "class"
    assert answered["outputs"][0]["data"] == [int(np.argmax(probabilities))]

    children = descendants(run.popen.pid)
    assert len(children) >= 3  # two model servers and a router
    run.popen.send_signal(signal.SIGINT)
    assert run.popen.wait(timeout=60) == 0
    left = [pid for pid in children if alive(pid)]
    assert not left, f"processes left behind: {left}"


def test_sigterm_stops_everything_too(run: Run) -> None:
    run.until(READY_LINE, START_TIMEOUT)
    children = descendants(run.popen.pid)
    run.popen.send_signal(signal.SIGTERM)
    assert run.popen.wait(timeout=60) == 0
    assert not [pid for pid in children if alive(pid)]


def test_a_bad_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: serving.modelplane.io/v1alpha1\nkind: InferenceGraph\n"
        "metadata: {name: g}\nspec:\n  nodes:\n    root:\n      routerType: Sequence\n"
        "      steps: [{serviceName: missing}]\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "modelplane", "run", "-f", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert out.returncode == 2
    assert "missing" in out.stderr and "-f" in out.stderr
