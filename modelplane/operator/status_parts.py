"""The pieces every status is made of (pure): condition types, one condition, a component's
readiness from its Deployment and pods, Ready from its parts, transition times."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelplane.operator import names
from modelplane.operator.pod_reasons import PodFailure, component_failure

Obj = dict[str, Any]
Children = Mapping[tuple[str, str], Obj]

READY = "Ready"
PREDICTOR_READY = "PredictorReady"
TRANSFORMER_READY = "TransformerReady"
INGRESS_READY = "IngressReady"
ROUTER_READY = "RouterReady"
DEPENDENCIES_READY = "DependenciesReady"
# A scale-to-zero component with 0 replicas: ready (the activator holds and wakes), not a failure.
SCALED_TO_ZERO = "ScaledToZero"
LATEST_REVISION_READY = "LatestRevisionReady"
TRAFFIC_SPLIT_UNSUPPORTED = "TrafficSplitUnsupported"


@dataclass(frozen=True)
class Failure:
    """Why nothing (new) could be rendered: a reason word and a message for people."""

    reason: str
    message: str


def condition(
    type_: str, status: str, reason: str | None = None, message: str | None = None
) -> Obj:
    """One condition, without unset fields."""
    cond: Obj = {"type": type_, "status": status}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def deployment_condition(
    type_: str,
    deployment: Obj | None,
    waiting: Failure | None = None,
    pods: Iterable[Obj] = (),
) -> Obj:
    """Readiness of a Deployment: its Available condition, or why it is not available.

    When it is not available, the reason read from its pods (`pod_reasons`) wins over the
    Deployment's own generic one.
    """
    cond, _ = component_readiness(type_, deployment, waiting, pods)
    return cond


def component_readiness(
    type_: str,
    deployment: Obj | None,
    waiting: Failure | None = None,
    pods: Iterable[Obj] = (),
    scales_to_zero: bool = False,
) -> tuple[Obj, PodFailure | None]:
    """A component's readiness condition and the pod-level failure behind it, if any.

    A component that scales to zero (minReplicas 0) is ready at 0 replicas: `ScaledToZero`.
    """
    if deployment is None:
        if waiting is not None:
            return condition(type_, "Unknown", waiting.reason, waiting.message), None
        missing = condition(
            type_, "False", "DeploymentMissing", "the Deployment does not exist yet"
        )
        return missing, None
    name = deployment["metadata"]["name"]
    if scales_to_zero and (deployment.get("spec") or {}).get("replicas") == 0:
        message = "0 replicas after no requests; the next request wakes it"
        return condition(type_, "True", SCALED_TO_ZERO, message), None
    status = deployment.get("status") or {}
    found = {c.get("type"): c for c in status.get("conditions") or []}
    progressing = found.get("Progressing") or {}
    stuck = progressing.get("reason") == "ProgressDeadlineExceeded"
    available = found.get("Available")
    ready = status.get("readyReplicas") or 0
    wanted = status.get("replicas") or (deployment.get("spec") or {}).get("replicas") or 0
    if available is not None and available.get("status") == "True" and not stuck:
        return condition(
            type_, "True", "MinimumReplicasAvailable", f"{ready}/{wanted} replicas ready"
        ), None
    failure = component_failure(deployment, pods)
    if failure is not None:
        return condition(type_, "False", failure.reason, failure.message), failure
    if stuck:
        deadline = PodFailure("ProgressDeadlineExceeded", progressing.get("message") or "")
        return condition(type_, "False", deadline.reason, deadline.message), deadline
    if available is None:
        return condition(
            type_, "Unknown", "DeploymentPending", f"Deployment {name} has no status yet"
        ), None
    return condition(
        type_,
        "False",
        available.get("reason") or "MinimumReplicasUnavailable",
        available.get("message") or f"{ready}/{wanted} replicas ready",
    ), None


def component_pods(children: Children, part: str) -> list[Obj]:
    """The live pods of one component (predictor, transformer, router) among the children."""
    return [
        pod
        for (kind, _), pod in children.items()
        if kind == "Pod"
        and ((pod.get("metadata") or {}).get("labels") or {}).get(names.COMPONENT_LABEL) == part
    ]


def ready_condition(parts: Iterable[Obj]) -> Obj:
    """Ready: True when every part is; else the first False (or Unknown) part's reason."""
    parts = list(parts)
    for wanted in ("False", "Unknown"):
        for part in parts:
            if part["status"] == wanted:
                message = f"{part['type']}: {part.get('message') or part.get('reason', '')}"
                return condition(READY, wanted, part.get("reason"), message)
    for part in parts:  # ready at zero says so
        if part.get("reason") == SCALED_TO_ZERO:
            return condition(READY, "True", SCALED_TO_ZERO, f"{part['type']}: {part['message']}")
    return condition(READY, "True")


def with_transition_times(
    previous: Iterable[Mapping[str, Any]], current: list[Obj], now: str
) -> list[Obj]:
    """Carry lastTransitionTime over for conditions whose status did not change."""
    before = {c.get("type"): c for c in previous}
    stamped = []
    for cond in current:
        old = before.get(cond["type"])
        same = old is not None and old.get("status") == cond["status"]
        time = old.get("lastTransitionTime") if same and old is not None else None
        stamped.append({**cond, "lastTransitionTime": time or now})
    return stamped


def failure_info(failure: PodFailure) -> Obj:
    """modelStatus.lastFailureInfo from a pod-level failure (unset fields left out)."""
    info: Obj = {
        "reason": failure.reason,
        "message": failure.message,
        "exitCode": failure.exit_code,
        "time": failure.time,
        "location": failure.location,
    }
    return {k: v for k, v in info.items() if v is not None}
