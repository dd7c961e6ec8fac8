"""`modelplane run` as a user drives it: start, paste the printed curl commands, Ctrl-C, nothing left.

The bundled sample (`make run`): two ONNX models served alone and as a Sequence graph.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelplane.local import sample
from tests.support.local_run import READY_LINE, START_TIMEOUT, Run, alive, descendants, send


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    yaml_path = sample.write_sample(tmp_path)
    started = Run("-f", str(yaml_path))
    try:
        yield started
    finally:
        started.stop()


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

    answered = send(command_for("/v2/models/sample-pipeline/infer"))
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


def test_repeated_signals_while_stopping_still_clean_up(run: Run) -> None:
    run.until(READY_LINE, START_TIMEOUT)
    children = descendants(run.popen.pid)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):
        run.popen.send_signal(sig)
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
