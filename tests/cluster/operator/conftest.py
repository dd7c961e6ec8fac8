"""The operator running in-process (kopf's runner) against the real test control plane."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kopf
import pytest
from kopf.testing import KopfRunner

from modelplane.operator.config import OperatorConfig
from modelplane.operator.handlers import Operator
from modelplane.operator.leader import LeaseSettings
from modelplane.operator.pool_client import ReplicaClient, ReplicaError
from tests.support.sample_storage import sample_storage

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")

# What the cluster tests configure: an ingress domain (so Ingresses are exercised) and a
# short resync, so that lost events cannot hide for long.
TEST_CONFIG = OperatorConfig(
    ingress_domain="models.example.com", ingress_class="nginx", resync_seconds=20
)


def eventually(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.3
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class Kubectl:
    """kubectl against the test cluster, JSON in and out."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        done = self.cluster.kubectl(*args, input=input, check=check)
        return str(done.stdout)

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        """One object or None."""
        done = self.cluster.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
        if done.returncode != 0:
            return None
        loaded: dict[str, Any] = json.loads(done.stdout)
        return loaded

    def items(self, kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
        """Objects of a kind in a namespace."""
        args = ["get", kind, "-n", namespace, "-o", "json"]
        if selector:
            args += ["-l", selector]
        items: list[dict[str, Any]] = json.loads(self(*args))["items"]
        return items

    def condition(self, kind: str, name: str, namespace: str, type_: str) -> dict[str, Any] | None:
        """The named condition of an object's status, if present."""
        obj = self.get(kind, name, namespace) or {}
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") == type_:
                found: dict[str, Any] = cond
                return found
        return None

    def ready(self, kind: str, name: str, namespace: str) -> bool:
        """Whether the object's Ready condition is True."""
        cond = self.condition(kind, name, namespace, "Ready")
        return cond is not None and cond.get("status") == "True"


@pytest.fixture(scope="session")
def kubectl(k8s_cluster: Any) -> Kubectl:
    """kubectl with the CRDs and the default runtimes installed."""
    run = Kubectl(k8s_cluster)
    run("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    run("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "manifests" / "runtimes"))
    return run


class KwokReplicas:
    """Pool replicas on kwok: the pods are only records, so no call reaches a server."""

    WHY = "kwok pods run no server"

    def index(self, pod_ip: str) -> list[dict[str, Any]]:
        raise ReplicaError(self.WHY)

    def load(
        self, pod_ip: str, model: str, storage_uri: str, memory: int | None, timeout: float
    ) -> None:
        raise ReplicaError(self.WHY)

    def unregister(self, pod_ip: str, model: str) -> None:
        raise ReplicaError(self.WHY)


@contextlib.contextmanager
def running_operator(
    cluster: Any,
    config: OperatorConfig = TEST_CONFIG,
    lease: LeaseSettings | None = None,
    replicas: ReplicaClient | None = None,
) -> Iterator[KopfRunner]:
    """The operator in a thread via kopf's runner, cluster-wide, until the block ends.

    `replicas`: how pool passes reach pool pods; kwok's pods have made-up addresses that
    must not be called (they may be a real pod of the real tier, or leave the machine), so
    the tests of pools pass a client that answers for kwok."""
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    operator = Operator(config, lease=lease, replicas=replicas or KwokReplicas())
    settings = kopf.OperatorSettings()
    try:
        with KopfRunner(
            ["run", "--standalone", "--all-namespaces", "--verbose"],
            registry=operator.registry(),
            settings=settings,
            timeout=60,
        ) as runner:
            yield runner
    finally:
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


@pytest.fixture(scope="module")
def operator(k8s_cluster: Any, kubectl: Kubectl) -> Iterator[KopfRunner]:
    """One operator for the tests of a module."""
    with running_operator(k8s_cluster) as runner:
        yield runner


def create_namespace(kubectl: Kubectl, hint: str) -> str:
    """A fresh namespace with what the samples expect: a bound `models` PVC, `model-reader`."""
    name = f"op-{hint}-{os.getpid() % 10000}"
    kubectl("create", "namespace", name)
    kubectl("apply", "-f", "-", input=json.dumps(sample_storage(name)))
    return name


def delete_namespace(kubectl: Kubectl, name: str) -> None:
    """Delete a test namespace and its volume without waiting."""
    kubectl("delete", "namespace", name, "--wait=false", check=False)
    kubectl("delete", "pv", f"models-{name}", "--wait=false", check=False)
