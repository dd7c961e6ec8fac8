"""The one table of the kinds the operator reads, watches and writes, and what it does with each.

Everything that names a kind's place in the API is built from `TABLE`: the client's REST paths
(`kube`), kopf's watches (`handlers`), the children a pass applies and prunes (`CHILD_KINDS`)
and the RBAC rules (`rbac`, which the chart and manifests/base are tested against). The custom
resources' rows come from their API classes (`API_VERSION`, `PLURAL`, `NAMESPACED`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from modelplane.api import (
    ClusterServingRuntime,
    InferenceGraph,
    InferenceService,
    Resource,
    ServingRuntime,
)

# owner: reconciled, status written | runtime: read, a change re-selects runtimes
# child: applied and pruned for an owner | observed: read for the status (pods), never written
# lease: the leader-election Lease, read and written in the operator's own namespace only
# event: Events about the owners (`events`), created only
Role = Literal["owner", "runtime", "child", "observed", "lease", "event"]

ISVC = InferenceService.KIND
GRAPH = InferenceGraph.KIND
# Not a kind: the key of a multi-model pool's pass (namespace, the pool label's value).
POOL = "Pool"


@dataclass(frozen=True)
class ApiKind:
    """One kind: where it lives in the REST API and the operator's role towards it."""

    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    role: Role
    namespaced: bool = True
    owners: tuple[str, ...] = ()  # a child's owner kinds (whose passes render it)

    @classmethod
    def of(cls, resource: type[Resource], role: Role) -> ApiKind:
        """The row of one of modelplane's custom resources, from its API class."""
        group, version = resource.group_version()
        return cls(resource.KIND, group, version, resource.PLURAL, role, resource.NAMESPACED)

    @property
    def api_version(self) -> str:
        """`group/version`, or `version` alone for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """Collection path (name None) or object path; all namespaces when namespace is None."""
        base = f"/apis/{self.api_version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{self.plural}"
        return base if name is None else f"{base}/{quote(name)}"


TABLE: tuple[ApiKind, ...] = (
    ApiKind.of(InferenceService, "owner"),
    ApiKind.of(InferenceGraph, "owner"),
    ApiKind.of(ServingRuntime, "runtime"),
    ApiKind.of(ClusterServingRuntime, "runtime"),
    ApiKind("ConfigMap", "", "v1", "configmaps", "child", owners=(GRAPH,)),
    ApiKind("Deployment", "apps", "v1", "deployments", "child", owners=(ISVC, GRAPH)),
    ApiKind("Service", "", "v1", "services", "child", owners=(ISVC, GRAPH)),
    ApiKind(
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "child",
        owners=(ISVC, GRAPH),
    ),
    ApiKind("Ingress", "networking.k8s.io", "v1", "ingresses", "child", owners=(ISVC, GRAPH)),
    # Gateway mode only; without the Gateway API CRDs the list is empty (a 404) and kopf
    # leaves the kind unwatched.
    ApiKind(
        "HTTPRoute", "gateway.networking.k8s.io", "v1", "httproutes", "child", owners=(ISVC, GRAPH)
    ),
    # A predictor at zero: its Service's endpoints, the activator (`render.activation`).
    ApiKind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", "child", owners=(ISVC,)),
    # A multi-model pool (`pool_pass`): owned by the InferenceServices on it, applied and
    # pruned by the pool's own pass, not an owner's (so no owner lists it as a child).
    ApiKind("StatefulSet", "apps", "v1", "statefulsets", "child"),
    # The components' pods (owned by ReplicaSets): read for the status's reasons; a pool's
    # pods are also labelled with the models they hold (`rbac.POOL_RULES`).
    ApiKind("Pod", "", "v1", "pods", "observed"),
    # Transitions of the owners people act on (`events`); never read back.
    ApiKind("Event", "events.k8s.io", "v1", "events", "event"),
    # Which replica reconciles (leader election, `leader`); never watched.
    ApiKind("Lease", "coordination.k8s.io", "v1", "leases", "lease"),
)

BY_KIND: dict[str, ApiKind] = {k.kind: k for k in TABLE}


def with_role(*roles: Role) -> tuple[ApiKind, ...]:
    """The rows with one of these roles, in table order."""
    return tuple(k for k in TABLE if k.role in roles)


# What a pass of each owner applies, lists and prunes, in table order.
CHILD_KINDS: dict[str, tuple[str, ...]] = {
    owner.kind: tuple(k.kind for k in with_role("child") if owner.kind in k.owners)
    for owner in with_role("owner")
}
