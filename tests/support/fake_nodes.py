"""The fake Nodes kwok manages in the test cluster: one CPU node and one GPU node."""

from __future__ import annotations

from typing import Any

MANAGED_ANNOTATION = "kwok.x-k8s.io/node"
CPU_NODE = "kwok-cpu-0"
GPU_NODE = "kwok-gpu-0"
GPU_RESOURCE = "nvidia.com/gpu"
MIG_RESOURCE = "nvidia.com/mig-1g.10gb"
GPU_TAINT_KEY = "nvidia.com/gpu"
BASE_RESOURCES = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "500Gi"}
GPU_RESOURCES = {GPU_RESOURCE: "8", MIG_RESOURCE: "14"}


def node_manifest(
    name: str,
    resources: dict[str, str],
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A Node that kwok adopts (by annotation), with the given capacity and allocatable."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {MANAGED_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **(labels or {}),
            },
        },
        "spec": {"taints": taints or []},
        "status": {
            "capacity": dict(resources),
            "allocatable": dict(resources),
        },
    }


def manifests() -> list[dict[str, Any]]:
    """The CPU node and the tainted GPU node (8 GPUs, 14 MIG 1g.10gb slices)."""
    return [
        node_manifest(CPU_NODE, BASE_RESOURCES),
        node_manifest(
            GPU_NODE,
            {**BASE_RESOURCES, **GPU_RESOURCES},
            labels={"nvidia.com/gpu.present": "true"},
            taints=[{"key": GPU_TAINT_KEY, "value": "present", "effect": "NoSchedule"}],
        ),
    ]
