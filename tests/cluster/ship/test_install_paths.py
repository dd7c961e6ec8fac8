"""`helm install` and `kubectl apply -k` against the real control plane: CRDs, runtimes, operator Ready.

Pods are simulated by kwok, so "Ready" here means the Deployment was accepted, scheduled and
became Available; the operator process itself is exercised by e2e/ and tests/cluster/operator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cluster import Cluster, create_namespace
from tests.unit.ship.rendered import BASE, CHART, REPO

pytestmark = pytest.mark.cluster

CRDS = [
    "inferenceservices.serving.modelplane.io",
    "inferencegraphs.serving.modelplane.io",
    "servingruntimes.serving.modelplane.io",
    "clusterservingruntimes.serving.modelplane.io",
]
CRDS_ONLY = REPO / "manifests" / "crds"
RUNTIMES = ["modelplane-onnx", "modelplane-pytorch", "modelplane-python"]


def get(cluster: Cluster, *args: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)
    return loaded


def assert_installed(cluster: Cluster, namespace: str, deployment: str) -> None:
    """CRDs established, default runtimes present, operator Deployment Available."""
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{c}" for c in CRDS]
    )
    names = {r["metadata"]["name"] for r in get(cluster, "clusterservingruntimes")["items"]}
    assert set(RUNTIMES) <= names
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=Available",
        "--timeout=120s",
        f"deployment/{deployment}",
    )
    status = get(cluster, "deployment", deployment, "-n", namespace)["status"]
    assert status.get("readyReplicas") == 1


def test_helm_install_brings_the_operator_up_with_crds_and_runtimes(k8s_cluster: Cluster) -> None:
    namespace = create_namespace(k8s_cluster, "mp-helm")
    k8s_cluster.helm(
        "install",
        "mp",
        str(CHART),
        "-n",
        namespace,
        # Other tests may have applied the runtimes with kubectl already.
        "--take-ownership",
        "--force-conflicts",
        "--wait",
        "--timeout",
        "180s",
    )
    assert_installed(k8s_cluster, namespace, "mp-modelplane-operator")
    runtime = get(k8s_cluster, "clusterservingruntime", "modelplane-onnx")
    assert runtime["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    notes = k8s_cluster.helm("get", "notes", "mp", "-n", namespace).stdout
    assert "kubectl apply -f -" in notes and "inferenceservice" in notes.lower()
    # The operator's ServiceAccount can do what the operator does, and no more.
    account = f"system:serviceaccount:{namespace}:mp-modelplane-operator"
    for verb, resource, allowed in [
        ("patch", "deployments.apps", "yes"),
        ("watch", "inferenceservices.serving.modelplane.io", "yes"),
        ("patch", "inferenceservices.serving.modelplane.io/status", "yes"),
        ("get", "secrets", "no"),
        ("delete", "inferenceservices.serving.modelplane.io", "no"),
    ]:
        sub, _, rest = resource.partition("/")
        args = ["auth", "can-i", verb, sub, "--as", account, "-A"]
        if rest:
            args += ["--subresource", rest]
        answer = k8s_cluster.kubectl(*args, check=False).stdout.strip()
        assert answer == allowed, f"can {account} {verb} {resource}: {answer}"


def test_kubectl_apply_k_brings_the_operator_up_with_crds_and_runtimes(
    k8s_cluster: Cluster,
) -> None:
    # The documented sequence: CRDs, Established, then the base (which repeats them).
    k8s_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(CRDS_ONLY))
    k8s_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds")
    )
    k8s_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(BASE))
    assert_installed(k8s_cluster, "modelplane-system", "modelplane-operator")
    config = get(k8s_cluster, "configmap", "modelplane-operator-config", "-n", "modelplane-system")
    assert "routerImage" in config["data"]["config.yaml"]
