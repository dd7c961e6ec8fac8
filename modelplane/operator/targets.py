"""Which scale-to-zero component a request means, and what to do with it (pure).

The activator and the idle clock read the same facts from a component's Service (its
labels and annotations, written by `render.activation`): the Deployment to wake or idle,
the seconds without requests before idling, and the Host headers that mean it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelplane.operator import names, relay_ports

Obj = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """A scale-to-zero component, as its Service describes it."""

    namespace: str
    service: str
    deployment: str
    idle_seconds: int
    hosts: tuple[str, ...]
    cluster_ip: str | None
    port: int  # the pods' http port (the Service's http targetPort)
    grpc_port: int = names.GRPC_PORT  # the pods' grpc port (the Service's grpc targetPort)
    relay_port: int | None = None  # the activator port relaying its gRPC at zero
    parked: bool = False  # the Service has no selector: its traffic goes to the activator

    @property
    def key(self) -> tuple[str, str]:
        """(namespace, deployment): one wake and one idle clock per Deployment."""
        return (self.namespace, self.deployment)


def target_of(service: Mapping[str, Any]) -> Target | None:
    """The Target a marked Service describes; None when it is not (fully) marked."""
    meta = service.get("metadata") or {}
    notes = meta.get("annotations") or {}
    deployment = notes.get(names.SCALE_TARGET_ANNOTATION)
    if not deployment or (meta.get("labels") or {}).get(names.SCALE_TO_ZERO_LABEL) != "true":
        return None
    spec = service.get("spec") or {}
    ports = {"http": names.HTTP_PORT, "grpc": names.GRPC_PORT}
    for item in spec.get("ports") or []:
        if item.get("name") in ports and isinstance(item.get("targetPort"), int):
            ports[item["name"]] = item["targetPort"]
    try:
        idle = int(notes.get(names.IDLE_AFTER_ANNOTATION) or 0)
    except ValueError:
        idle = 0
    hosts = tuple(h for h in (notes.get(names.HOSTS_ANNOTATION) or "").split(",") if h)
    ip = spec.get("clusterIP")
    return Target(
        namespace=meta.get("namespace") or "default",
        service=meta.get("name") or "",
        deployment=deployment,
        idle_seconds=idle,
        hosts=hosts,
        cluster_ip=ip if ip and ip != "None" else None,
        port=ports["http"],
        grpc_port=ports["grpc"],
        relay_port=relay_ports.parse(notes.get(names.RELAY_PORT_ANNOTATION)),
        parked=not spec.get("selector"),
    )


def relayed(targets: Iterable[Target]) -> dict[int, Target]:
    """Relay port -> the component it relays: of two claiming a port, the one whose key sorts
    first (the rule the operator's passes follow, `relay_ports`)."""
    found: dict[int, Target] = {}
    for target in targets:
        port = target.relay_port
        if port is None:
            continue
        key = relay_ports.service_key(target.namespace, target.service)
        holder = found.get(port)
        if holder is None or key < relay_ports.service_key(holder.namespace, holder.service):
            found[port] = target
    return found


def host_name(header: str) -> str:
    """A Host header without its port, lower case (`[v6]:port` keeps its brackets' content)."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def resolve(header: str, targets: Iterable[Target]) -> Target | None:
    """The one target a Host header means: by name (fully qualified or not) or ClusterIP.

    A short name that several namespaces share means none of them (None).
    """
    host = host_name(header)
    found = {t.key: t for t in targets if host in t.hosts or host == t.cluster_ip}
    return next(iter(found.values())) if len(found) == 1 else None


def ready_pod_ip(pods: Iterable[Mapping[str, Any]]) -> str | None:
    """The IP of a Ready, running pod not being deleted (the newest first), if any."""
    ready = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        if meta.get("deletionTimestamp") or not status.get("podIP"):
            continue
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conditions.get("Ready") == "True":
            ready.append((meta.get("creationTimestamp") or "", status["podIP"]))
    return max(ready)[1] if ready else None


def ready_addresses(slices: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Ready addresses of a Service's EndpointSlices (the activator's pods), sorted."""
    found: set[str] = set()
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            found.update(endpoint.get("addresses") or [])
    return tuple(sorted(found))
