"""The API access the operator needs: RBAC rules as data, built from the table of kinds.

The chart's templates/rbac.yaml and manifests/base carry the same rules (tests compare them),
and the operator is tested against a control plane holding exactly these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelplane.operator.kinds import TABLE, ApiKind

READ = ["get", "list", "watch"]
CHILD_VERBS = [*READ, "create", "patch", "delete"]  # apply is a patch; pruning deletes
STATUS_VERBS = ["get", "patch"]  # status is applied (a patch) to the status subresource
LEASE_VERBS = ["get", "create", "update"]  # read, take, renew (an update with resourceVersion)
EVENT_VERBS = ["create"]

Rule = dict[str, Any]


def grants(kind: ApiKind) -> list[tuple[str, list[str]]]:
    """(resource, verbs) the operator needs on one kind, by its role."""
    if kind.role == "owner":
        return [(kind.plural, READ), (f"{kind.plural}/status", STATUS_VERBS)]
    if kind.role == "child":
        return [(kind.plural, CHILD_VERBS)]
    if kind.role == "lease":
        return [(kind.plural, LEASE_VERBS)]
    if kind.role == "event":
        return [(kind.plural, EVENT_VERBS)]
    return [(kind.plural, READ)]


def rules(kinds: Iterable[ApiKind]) -> list[Rule]:
    """One rule per (API group, verbs), resources in table order."""
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for kind in kinds:
        for resource, verbs in grants(kind):
            merged.setdefault((kind.group, tuple(verbs)), []).append(resource)
    return [
        {"apiGroups": [group], "resources": resources, "verbs": list(verbs)}
        for (group, verbs), resources in merged.items()
    ]


# What kopf itself needs: it reports handler errors as Events (core v1; ours are
# events.k8s.io, from the table), and it looks up the CRDs and the namespaces it serves.
KOPF_NAMESPACED_RULES: list[Rule] = [
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
KOPF_CLUSTER_RULES: list[Rule] = [
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": list(READ),
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": list(READ)},
]

# Scale to zero: the idle clock sets a Deployment's replicas to 0, the activator back to 1,
# through the scale subresource (the Deployment's replicas are theirs, not the apply's).
SCALE_RULES: list[Rule] = [
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
]

# Scale to zero: a Service that loses its selector keeps its v1 Endpoints object, which the
# EndpointSlice mirroring controller then turns into a slice of stale pod IPs; the operator
# deletes that Endpoints object (by name: the Service's) when the Service goes to zero.
ENDPOINTS_RULES: list[Rule] = [
    {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["delete"]},
]

# Multi-model pools: the pool pass labels each pool pod with the models it holds (the models'
# predictor Services select on those labels); a merge patch of labels, nothing else.
POOL_RULES: list[Rule] = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]},
]

# Rules on namespaced resources: a ClusterRole bound cluster-wide, or per watched namespace.
NAMESPACED_RULES: list[Rule] = [
    *rules(k for k in TABLE if k.namespaced and k.role != "lease"),
    *SCALE_RULES,
    *ENDPOINTS_RULES,
    *POOL_RULES,
    *KOPF_NAMESPACED_RULES,
]

# Rules on cluster-scoped resources: always a ClusterRole bound cluster-wide.
CLUSTER_RULES: list[Rule] = [
    *rules(k for k in TABLE if not k.namespaced),
    *KOPF_CLUSTER_RULES,
]

# The leader-election Lease: a Role in the operator's own namespace only.
LEASE_RULES: list[Rule] = rules(k for k in TABLE if k.role == "lease")
