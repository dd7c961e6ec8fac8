"""Pod template pieces shared by components and routers: scheduling, security, probes (pure)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from modelplane.operator import names
from modelplane.operator.render.meta import Obj

POD_SECURITY: Obj = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY: Obj = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# A container's termination message: its own file when it wrote one, else its last log lines.
LOG_ON_ERROR = "FallbackToLogsOnError"


def restricted(container: Obj) -> Obj:
    """The container with the restricted Pod Security profile under its own settings."""
    own = container.get("securityContext") or {}
    return {**container, "securityContext": copy.deepcopy({**CONTAINER_SECURITY, **own})}


def http_probe(path: str, period: int, failures: int) -> Obj:
    """An HTTP GET probe on the server's http port."""
    return {
        "httpGet": {"path": path, "port": names.HTTP_PORT},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def v2_probes() -> Obj:
    """Startup/liveness on /v2/health/live, readiness on /v2/health/ready."""
    return {
        "startupProbe": http_probe("/v2/health/live", 2, 300),
        "livenessProbe": http_probe("/v2/health/live", 10, 3),
        "readinessProbe": http_probe("/v2/health/ready", 2, 3),
    }


def merge_resources(*layers: Obj | None) -> Obj:
    """Resource requirements, later layers overriding per resource name.

    A layer that sets only one side (request or limit) of a resource also drops the
    other side inherited from lower layers, so that a default request never exceeds a
    limit the user chose (Kubernetes then defaults the request to the limit).
    Extended resources (GPUs) must have requests == limits; a request without a limit
    gets the same limit.
    """
    merged: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for layer in layers:
        limits = dict((layer or {}).get("limits") or {})
        requests = dict((layer or {}).get("requests") or {})
        for resource in set(limits) ^ set(requests):
            merged["requests" if resource in limits else "limits"].pop(resource, None)
        merged["limits"].update(limits)
        merged["requests"].update(requests)
    for resource, amount in merged["requests"].items():
        if "/" in resource and resource not in merged["limits"]:
            merged["limits"][resource] = amount
    return {part: values for part, values in merged.items() if values}


def merge_env(*layers: Iterable[Obj] | None) -> list[Obj]:
    """Environment variables, later layers overriding by name, first-seen order kept."""
    merged: dict[str, Obj] = {}
    for layer in layers:
        for var in layer or []:
            merged[var["name"]] = var
    return list(merged.values())


def merge_tolerations(*layers: Iterable[Obj] | None) -> list[Obj]:
    """Tolerations of every layer, duplicates dropped, order kept."""
    merged: list[Obj] = []
    for layer in layers:
        for item in layer or []:
            if item not in merged:
                merged.append(item)
    return merged


def merge_dicts(*layers: Mapping[str, str] | None) -> dict[str, str]:
    """String maps (labels, nodeSelector), later layers overriding."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer or {})
    return merged


def default_ports() -> list[Obj]:
    """Container ports of a V2 server: http 8080, grpc 8081."""
    return [
        {"name": "http", "containerPort": names.HTTP_PORT, "protocol": "TCP"},
        {"name": "grpc", "containerPort": names.GRPC_PORT, "protocol": "TCP"},
    ]


def with_pre_stop(container: Obj, seconds: int) -> Obj:
    """The container with a preStop sleep, unless it has a lifecycle of its own.

    A deleted pod leaves its Service's endpoints while it shuts down; proxies (kube-proxy,
    an ingress controller) learn that a moment later. Serving on through the sleep means no
    request is sent to a server that already stopped listening (measured by `make soak`).
    """
    if seconds <= 0 or container.get("lifecycle"):
        return container
    return {**container, "lifecycle": {"preStop": {"sleep": {"seconds": seconds}}}}


def deployment(
    name: str,
    envelope: Obj,
    labels: dict[str, str],
    pod_spec: Obj,
    pod_annotations: Mapping[str, str],
    replicas: int | None,
    pre_stop_seconds: int = 0,
) -> Obj:
    """A Deployment around a pod spec; replicas left to the HPA when None; every container
    without a lifecycle of its own sleeps `pre_stop_seconds` before it is stopped."""
    containers = [with_pre_stop(c, pre_stop_seconds) for c in pod_spec.get("containers", [])]
    pod_spec = {**pod_spec, "containers": containers}
    pod_spec["securityContext"] = copy.deepcopy(POD_SECURITY)
    template_meta: Obj = {"labels": dict(labels)}
    if pod_annotations:
        template_meta["annotations"] = dict(pod_annotations)
    spec: Obj = {} if replicas is None else {"replicas": replicas}
    spec |= {
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": template_meta, "spec": pod_spec},
    }
    return {**envelope, "spec": spec}


def drop_empty(obj: Obj) -> Obj:
    """The mapping without None, empty lists and empty dicts (keeps applied objects minimal)."""
    return {k: v for k, v in obj.items() if v is not None and v != [] and v != {}}
