"""The API access the operator needs: RBAC rules as data (tested by running with exactly these)."""

from __future__ import annotations

from typing import Any

from modelplane.operator.names import GROUP

CHILD_VERBS = ["get", "list", "watch", "create", "patch", "delete"]
READ = ["get", "list", "watch"]

# Rules on namespaced resources: a ClusterRole bound cluster-wide, or per watched namespace.
NAMESPACED_RULES: list[dict[str, Any]] = [
    {"apiGroups": [GROUP], "resources": ["inferenceservices", "inferencegraphs"], "verbs": READ},
    {
        "apiGroups": [GROUP],
        "resources": ["inferenceservices/status", "inferencegraphs/status"],
        "verbs": ["get", "patch"],
    },
    {"apiGroups": [GROUP], "resources": ["servingruntimes"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": CHILD_VERBS},
    {"apiGroups": [""], "resources": ["services", "configmaps"], "verbs": CHILD_VERBS},
    {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": CHILD_VERBS},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": CHILD_VERBS},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
]

# Rules on cluster-scoped resources: always a ClusterRole bound cluster-wide.
CLUSTER_RULES: list[dict[str, Any]] = [
    {"apiGroups": [GROUP], "resources": ["clusterservingruntimes"], "verbs": READ},
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": READ,
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": READ},
]
