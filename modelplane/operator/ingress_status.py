"""IngressReady (pure): the Ingress, or in Gateway mode the HTTPRoute's status for the
configured Gateway; with an ingress probe configured, also whether a request for the host
reached the service's pods through it (`Route`, from `modelplane.operator.route_probe`)."""

from __future__ import annotations

from dataclasses import dataclass

from modelplane.api import Resource
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.status_parts import INGRESS_READY, Children, Obj, condition

NOT_ROUTED = "NotRouted"


@dataclass(frozen=True)
class Route:
    """What one probe through the ingress found: whether the host reached the service's pods,
    and what was answered."""

    routed: bool
    detail: str


def ingress_condition(
    owner: Resource, children: Children, config: OperatorConfig, route: Route | None = None
) -> Obj:
    """IngressReady: the Ingress exists (with its load-balancer address when it has one), or,
    in Gateway mode, the Gateway accepted the HTTPRoute and resolved its backends; and, when
    a probe found the host not routed yet, False with `NotRouted` and what the probe got."""
    found = _object_condition(owner, children, config)
    if route is not None and not route.routed and found["status"] == "True":
        return condition(INGRESS_READY, "False", NOT_ROUTED, route.detail)
    return found


def _object_condition(owner: Resource, children: Children, config: OperatorConfig) -> Obj:
    if not config.ingress_domain:
        return condition(
            INGRESS_READY, "True", "ClusterLocal", "no ingress domain configured; cluster-local"
        )
    if config.gateway is not None:
        return route_condition(owner, children, config)
    found = children.get(("Ingress", names.ingress(owner.metadata.name or "")))
    if found is None:
        return condition(INGRESS_READY, "False", "IngressMissing", "the Ingress does not exist yet")
    balancers = ((found.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if balancers:
        address = balancers[0].get("hostname") or balancers[0].get("ip")
        return condition(INGRESS_READY, "True", "IngressAdmitted", f"load balancer {address}")
    return condition(INGRESS_READY, "True", "IngressCreated", "no load-balancer address yet")


def route_condition(owner: Resource, children: Children, config: OperatorConfig) -> Obj:
    """IngressReady in Gateway mode, from the HTTPRoute's status for the configured Gateway."""
    found = children.get(("HTTPRoute", names.route(owner.metadata.name or "")))
    if found is None:
        return condition(INGRESS_READY, "False", "RouteMissing", "the HTTPRoute does not exist yet")
    gateway = config.gateway
    assert gateway is not None
    parents = ((found.get("status") or {}).get("parents")) or []
    ours = [
        p
        for p in parents
        if (p.get("parentRef") or {}).get("name") == gateway.name
        and (p.get("parentRef") or {}).get("namespace", namespace_of_obj(found))
        == gateway.namespace
    ]
    where = f"Gateway {gateway.namespace}/{gateway.name}"
    if not ours:
        return condition(
            INGRESS_READY, "Unknown", "RoutePending", f"{where} has not reported on the route yet"
        )
    found_conditions = {c.get("type"): c for c in ours[0].get("conditions") or []}
    for type_ in ("Accepted", "ResolvedRefs"):
        cond = found_conditions.get(type_)
        if cond is None:
            return condition(
                INGRESS_READY, "Unknown", "RoutePending", f"{where}: no {type_} condition yet"
            )
        if cond.get("status") != "True":
            message = f"{where}: {type_} is {cond.get('status')}: {cond.get('message') or ''}"
            return condition(INGRESS_READY, "False", cond.get("reason") or type_, message.strip())
    return condition(INGRESS_READY, "True", "RouteAccepted", f"accepted by {where}")


def namespace_of_obj(obj: Obj) -> str:
    """A stored object's namespace."""
    return str((obj.get("metadata") or {}).get("namespace") or "default")
