"""Two operator processes: exactly one reconciles; kill it, and the other takes over.

Each process is configured with its own ingress domain, so an InferenceService's URL says
which one last reconciled it. A short resync makes a second, unelected reconciler show
itself within seconds (it would rewrite the URL to its own domain).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.operator.leader import LeaseSettings
from tests.cluster.operator.conftest import ROOT, Kubectl, create_namespace, delete_namespace
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

LEASE_SECONDS = LeaseSettings("", "").duration
MARGIN = 20.0  # start-up of the pass on a loaded 2-core machine; never tighter than the Lease
RESYNC = 3


def start(name: str, namespace: str, cluster: Any, tmp_path: Path) -> subprocess.Popen[bytes]:
    """`modelplane operator` for one namespace, electing through a Lease in it."""
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"ingressDomain: {name}.example.com\nresyncSeconds: {RESYNC}\n")
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PYTHONPATH": str(ROOT),
        "POD_NAME": name,  # the identity that holds the Lease
    }
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [
            sys.executable, "-m", "modelplane", "operator",
            "--namespace", namespace,
            "--lease-namespace", namespace,
            "--config", str(config),
            "--log-format", "plain",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def isvc(name: str) -> str:
    sample = yaml.safe_load((ROOT / "manifests" / "samples" / "isvc-onnx-cpu.yaml").read_text())
    sample["metadata"]["name"] = name
    return yaml.safe_dump(sample)


def domain_of(kubectl: Kubectl, name: str, namespace: str) -> str | None:
    """The ingress domain of the operator that last wrote the InferenceService's status."""
    url = ((kubectl.get("isvc", name, namespace) or {}).get("status") or {}).get("url") or ""
    prefix = f"http://{name}-{namespace}."
    return url[len(prefix) :].removesuffix(".example.com") if url.startswith(prefix) else None


def holder(kubectl: Kubectl, namespace: str) -> str | None:
    lease = kubectl.get("lease", "modelplane-operator", namespace) or {}
    found: str | None = (lease.get("spec") or {}).get("holderIdentity")
    return found


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = create_namespace(kubectl, "leader")
    yield name
    delete_namespace(kubectl, name)


def test_one_of_two_replicas_reconciles_and_the_other_takes_over(
    k8s_cluster: Any, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    procs = {name: start(name, namespace, k8s_cluster, tmp_path) for name in ("a", "b")}
    try:
        leader = wait_for(lambda: holder(kubectl, namespace), 60, message="a Lease holder")
        standby = ({"a", "b"} - {leader}).pop()

        kubectl("apply", "-n", namespace, "-f", "-", input=isvc("before"))
        wait_for(lambda: domain_of(kubectl, "before", namespace), 60, message="a status URL")
        # Several resync periods: a second reconciler would rewrite the URL to its domain.
        watched_until = time.monotonic() + 4 * RESYNC
        while time.monotonic() < watched_until:
            assert domain_of(kubectl, "before", namespace) == leader
            assert holder(kubectl, namespace) == leader
            time.sleep(0.5)
        assert procs[standby].poll() is None, "the standby exited"

        procs[leader].send_signal(signal.SIGKILL)  # no release: the Lease has to expire
        procs[leader].wait(timeout=10)
        killed = time.monotonic()
        kubectl("apply", "-n", namespace, "-f", "-", input=isvc("after"))
        wait_for(
            lambda: domain_of(kubectl, "after", namespace) == standby,
            LEASE_SECONDS + MARGIN,
            message=f"{standby} to reconcile a new InferenceService",
        )
        took = time.monotonic() - killed
        assert holder(kubectl, namespace) == standby
        # What was the old leader's is the new one's now (it resyncs everything it takes).
        wait_for(
            lambda: domain_of(kubectl, "before", namespace) == standby,
            2 * RESYNC + MARGIN,
            message="the new leader to reconcile the old InferenceService",
        )
        print(f"takeover: {took:.1f}s after the leader was killed (Lease {LEASE_SECONDS:.0f}s)")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
