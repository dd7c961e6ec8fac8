"""Restarting the operator creates nothing and rewrites nothing."""

from __future__ import annotations

import json
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


def versions(kubectl: Kubectl, namespace: str) -> dict[str, tuple[str, str]]:
    """resourceVersion and the operator's managed-fields entry of every child it manages.

    Controllers write some children's status (the HPA controller its conditions), which
    moves resourceVersion without the operator; its own managed-fields entry (fields and
    time of its last apply) moves only when the operator writes.
    """
    text = kubectl(
        "get", CHILD_KINDS, "-n", namespace, "-l", "app.kubernetes.io/managed-by=modelplane",
        "-o", "json", "--show-managed-fields",
    )  # fmt: skip
    found = {}
    for item in json.loads(text)["items"]:
        ours = [m for m in item["metadata"]["managedFields"] if m["manager"] == "modelplane"]
        key = f"{item['kind']}/{item['metadata']['name']}"
        found[key] = (item["metadata"]["resourceVersion"], json.dumps(ours, sort_keys=True))
    return found


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

        assert set(after) >= set(before)
        rewritten = [k for k, (_, ours) in before.items() if after[k][1] != ours]
        assert rewritten == [], f"the restarted operator wrote {rewritten}"
        moved = {k for k, (version, _) in before.items() if after[k][0] != version}
        # Only controllers that own a status may have written (the HPA controller).
        assert moved <= {k for k in before if k.startswith("HorizontalPodAutoscaler/")}, moved
        owners_after = {
            n: (kubectl.get("isvc", n, namespace) or {})["metadata"]["resourceVersion"]
            for n in ("iris-onnx", "iris-autoscaled")
        }
        assert owners_after == owners_before, "the restart rewrote an InferenceService"
    finally:
        delete_namespace(kubectl, namespace)
