"""Workloads on the test control plane: Deployments become Ready pods, GPUs are scheduled."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import fake_nodes
from tests.support.cluster import Cluster
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster


def get_json(cluster: Cluster, *args: str) -> Any:
    """`kubectl get ... -o json`, parsed."""
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def is_ready(pod: dict[str, Any]) -> bool:
    """Running with condition Ready=True."""
    status = pod.get("status", {})
    conditions = status.get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return bool(status.get("phase") == "Running" and ready)


def pod_manifest(name: str, resources: dict[str, str], tolerate_gpu: bool) -> dict[str, Any]:
    """A single-container pod asking for `resources` (as requests and limits)."""
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "main",
                "image": "registry.invalid/app:1",
                "resources": {"requests": resources, "limits": resources},
            }
        ]
    }
    if tolerate_gpu:
        spec["tolerations"] = [
            {"key": fake_nodes.GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_deployment_pods_become_ready_and_are_garbage_collected(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "registry.invalid/web:1",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ]
                },
            },
        },
    }
    k8s_cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(deployment))

    def ready_pods() -> list[dict[str, Any]] | None:
        pods = get_json(k8s_cluster, "pods", "-n", ns, "-l", "app=web")["items"]
        return pods if len(pods) == 3 and all(is_ready(p) for p in pods) else None

    pods = wait_for(ready_pods, timeout=90, message="3 Running+Ready pods of deployment web")
    assert {p["spec"]["nodeName"] for p in pods} == {fake_nodes.CPU_NODE}
    assert all(p["status"].get("podIP") for p in pods)
    replicasets = get_json(k8s_cluster, "replicasets", "-n", ns, "-l", "app=web")["items"]
    assert len(replicasets) == 1
    owner = replicasets[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("Deployment", "web")
    pod_owner = pods[0]["metadata"]["ownerReferences"][0]
    assert (pod_owner["kind"], pod_owner["name"]) == (
        "ReplicaSet",
        replicasets[0]["metadata"]["name"],
    )

    k8s_cluster.kubectl("delete", "deployment", "web", "-n", ns, "--wait=false")

    def all_collected() -> bool:
        pods_left = get_json(k8s_cluster, "pods", "-n", ns, "-l", "app=web")["items"]
        rs_left = get_json(k8s_cluster, "replicasets", "-n", ns, "-l", "app=web")["items"]
        return not pods_left and not rs_left

    wait_for(all_collected, timeout=90, message="replicaset and pods garbage-collected")


def test_gpu_pod_is_scheduled_on_the_gpu_node(k8s_cluster: Cluster, k8s_namespace: str) -> None:
    pod = pod_manifest("gpu", {fake_nodes.GPU_RESOURCE: "1"}, tolerate_gpu=True)
    k8s_cluster.kubectl("apply", "-n", k8s_namespace, "-f", "-", input=json.dumps(pod))

    def ready() -> dict[str, Any] | None:
        current = get_json(k8s_cluster, "pod", "gpu", "-n", k8s_namespace)
        return current if is_ready(current) else None

    scheduled = wait_for(ready, timeout=60, message="gpu pod Running+Ready")
    assert scheduled["spec"]["nodeName"] == fake_nodes.GPU_NODE


def test_pod_without_toleration_never_lands_on_the_gpu_node(
    k8s_cluster: Cluster, k8s_namespace: str
) -> None:
    ns = k8s_namespace
    cpu_pod = pod_manifest("plain", {"cpu": "500m"}, tolerate_gpu=False)
    gpu_pod = pod_manifest("wants-gpu", {fake_nodes.GPU_RESOURCE: "1"}, tolerate_gpu=False)
    for pod in (cpu_pod, gpu_pod):
        k8s_cluster.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pod))

    def unschedulable() -> dict[str, Any] | None:
        current = get_json(k8s_cluster, "pod", "wants-gpu", "-n", ns)
        conditions = current.get("status", {}).get("conditions", [])
        blocked = any(
            c["type"] == "PodScheduled"
            and c["status"] == "False"
            and c["reason"] == "Unschedulable"
            for c in conditions
        )
        return current if blocked else None

    blocked = wait_for(unschedulable, timeout=60, message="wants-gpu pod reported Unschedulable")
    assert not blocked["spec"].get("nodeName")
    plain = wait_for(
        lambda: (p := get_json(k8s_cluster, "pod", "plain", "-n", ns)) and is_ready(p) and p,
        timeout=60,
        message="plain pod Running+Ready",
    )
    assert plain["spec"]["nodeName"] == fake_nodes.CPU_NODE


def test_gpu_node_advertises_gpus_and_mig_slices(k8s_cluster: Cluster) -> None:
    node = get_json(k8s_cluster, "node", fake_nodes.GPU_NODE)
    allocatable = node["status"]["allocatable"]
    assert allocatable[fake_nodes.GPU_RESOURCE] == "8"
    assert allocatable[fake_nodes.MIG_RESOURCE] == "14"
    assert node["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
    taints = {(t["key"], t["effect"]) for t in node["spec"]["taints"]}
    assert (fake_nodes.GPU_TAINT_KEY, "NoSchedule") in taints
