"""`modelplane operator` as a process: config file, one namespace, JSON logs, liveness, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.operator.conftest import (
    ROOT,
    Kubectl,
    create_namespace,
    delete_namespace,
    eventually,
)
from tests.support.ports import free_port

pytestmark = pytest.mark.cluster


def test_operator_command_serves_one_namespace(
    k8s_cluster: Any, kubectl: Kubectl, tmp_path: Path
) -> None:
    watched = create_namespace(kubectl, "cli")
    ignored = create_namespace(kubectl, "cli-ignored")
    config = tmp_path / "config.yaml"
    config.write_text("ingressDomain: cli.example.com\nresyncSeconds: 30\n")
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(k8s_cluster.kubeconfig), "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "operator.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "modelplane", "operator",
            "--namespace", watched,
            "--config", str(config),
            "--log-format", "json",
            "--liveness", f"http://127.0.0.1:{port}/healthz",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        sample = str(ROOT / "manifests" / "samples" / "isvc-onnx-cpu.yaml")
        kubectl("apply", "-n", watched, "-f", sample)
        kubectl("apply", "-n", ignored, "-f", sample)
        try:  # 90 s was once not enough on a machine busy with other work; say why if so
            eventually(lambda: kubectl.ready("isvc", "iris-onnx", watched), 180, "iris-onnx Ready")
        except AssertionError as exc:
            pods = kubectl("get", "pods", "-n", watched, "-o", "wide", check=False)
            status = (kubectl.get("isvc", "iris-onnx", watched) or {}).get("status")
            raise AssertionError(f"{exc}\npods:\n{pods}\nstatus: {status}") from None
        isvc = kubectl.get("isvc", "iris-onnx", watched) or {}
        assert isvc["status"]["url"] == f"http://iris-onnx-{watched}.cli.example.com"
        selector = "serving.modelplane.io/inferenceservice=iris-onnx"
        assert kubectl.items("deployments", ignored, selector) == []
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            assert answer.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.close()
        delete_namespace(kubectl, watched)
        delete_namespace(kubectl, ignored)
    lines = [line for line in (tmp_path / "operator.log").read_text().splitlines() if line.strip()]
    assert code == 0, lines[-20:]
    assert lines, "the operator logged nothing"
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) >= len(lines) * 0.9, lines[:20]  # JSON logs, one object a line
    assert all("msg" in r and "level" in r for r in records)  # the one format (modelplane.logs)
    about = {r["object"]["name"] for r in records if "object" in r}  # kopf's lines name theirs
    assert "iris-onnx" in about, records[:20]
