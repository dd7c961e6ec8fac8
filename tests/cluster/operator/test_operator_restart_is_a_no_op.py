"""Restarting the operator creates nothing and rewrites nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.operator.conftest import (
    ROOT,
    Kubectl,
    create_namespace,
    delete_namespace,
    eventually,
    running_operator,
)

pytestmark = pytest.mark.cluster

CHILD_KINDS = "deployments,services,configmaps,horizontalpodautoscalers.autoscaling,ingresses.networking.k8s.io"
SAMPLES = [
    "isvc-onnx-cpu.yaml",
    "isvc-autoscaled.yaml",
    "isvc-python-custom.yaml",
    "ig-sequence.yaml",
]


def versions(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    """resourceVersion of every child the operator manages in the namespace."""
    items = kubectl.items(CHILD_KINDS, namespace, "app.kubernetes.io/managed-by=modelplane")
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}


def test_restart_changes_no_child(k8s_cluster: Any, kubectl: Kubectl) -> None:
    namespace = create_namespace(kubectl, "restart")
    try:
        paths = [str(ROOT / "manifests" / "samples" / s) for s in SAMPLES]
        with running_operator(k8s_cluster):
            kubectl("apply", "-n", namespace, *[a for p in paths for a in ("-f", p)])
            for kind, name in [
                ("isvc", "iris-onnx"),
                ("isvc", "iris-autoscaled"),
                ("isvc", "iris-labels"),
                ("ig", "iris-pipeline"),
            ]:
                eventually(
                    lambda k=kind, n=name: kubectl.ready(k, n, namespace), 120, f"{name} Ready"
                )
        before = versions(kubectl, namespace)
        owners_before = {
            n: (kubectl.get("isvc", n, namespace) or {})["metadata"]["resourceVersion"]
            for n in ("iris-onnx", "iris-autoscaled")
        }
        assert len(before) >= 9

        with running_operator(k8s_cluster):
            # A new object proves the restarted operator is working through its queue.
            marker = (ROOT / "manifests" / "samples" / "isvc-batcher.yaml").read_text()
            kubectl("apply", "-n", namespace, "-f", "-", input=marker)
            eventually(lambda: kubectl.ready("isvc", "iris-batched", namespace), 60, "marker Ready")
            after = versions(kubectl, namespace)

        changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
        assert changed == {}, f"children rewritten by a restart: {changed}"
        owners_after = {
            n: (kubectl.get("isvc", n, namespace) or {})["metadata"]["resourceVersion"]
            for n in ("iris-onnx", "iris-autoscaled")
        }
        assert owners_after == owners_before, "the restart rewrote an InferenceService"
    finally:
        delete_namespace(kubectl, namespace)
