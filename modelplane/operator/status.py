"""Status of InferenceServices and InferenceGraphs, computed from their children (pure).

Conditions follow the Knative/KServe shape; a condition keeps its lastTransitionTime
while its status stays the same, so an unchanged world yields an identical status
(and the reconciler skips the patch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelplane.api import InferenceGraph, InferenceService, Resource
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.health import kstatus_conditions
from modelplane.operator.pod_reasons import PodFailure, component_failure
from modelplane.operator.render.network import external_url, service_url
from modelplane.operator.traffic import TrafficPlan, revision_fields, single

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


def ingress_condition(owner: Resource, children: Children, config: OperatorConfig) -> Obj:
    """IngressReady: the Ingress exists (with its load-balancer address when it has one), or,
    in Gateway mode, the Gateway accepted the HTTPRoute and resolved its backends."""
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


def _previous_conditions(owner: InferenceService | InferenceGraph) -> list[Obj]:
    if owner.status is None:
        return []
    return [c.to_dict() for c in owner.status.conditions]


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


def model_status(
    predictor: Obj,
    failure: Failure | None,
    deployment: Obj | None,
    pods: PodFailure | None = None,
) -> Obj:
    """modelStatus from the predictor's readiness (KServe's states and transition status).

    A spec that cannot be rendered is `InvalidSpec`; a pod-level failure that needs someone
    to act (image, crash, storage pull, model load, deadline) is `BlockedByFailedLoad`; a
    pod waiting for a node is still `InProgress`, with the scheduler's reason kept in
    `lastFailureInfo`.
    """
    if failure is not None:
        return {
            "transitionStatus": "InvalidSpec",
            "states": {"targetModelState": "FailedToLoad"},
            "lastFailureInfo": {"reason": failure.reason, "message": failure.message},
        }
    if predictor["status"] == "True":
        ready = ((deployment or {}).get("status") or {}).get("readyReplicas") or 0
        return {
            "transitionStatus": "UpToDate",
            "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
            "copies": {"totalCopies": ready, "failedCopies": 0},
        }
    if pods is not None and pods.blocks_load:
        return {
            "transitionStatus": "BlockedByFailedLoad",
            "states": {"activeModelState": "FailedToLoad", "targetModelState": "FailedToLoad"},
            "lastFailureInfo": failure_info(pods),
        }
    status: Obj = {
        "transitionStatus": "InProgress",
        "states": {"activeModelState": "Pending", "targetModelState": "Loading"},
    }
    if pods is not None:
        status["lastFailureInfo"] = failure_info(pods)
    return status


def revision_pods(children: Children, revision: str) -> list[Obj]:
    """The live predictor pods of one revision (and those carrying no revision label)."""
    return [
        pod
        for pod in component_pods(children, names.PREDICTOR)
        if ((pod.get("metadata") or {}).get("labels") or {}).get(names.REVISION_LABEL, revision)
        == revision
    ]


def revision_ready(children: Children, revision: str) -> bool:
    """Whether a revision's Deployment is available."""
    cond, _ = component_readiness(READY, children.get(("Deployment", revision)))
    return bool(cond["status"] == "True")


def revision_conditions(
    isvc: InferenceService, children: Children, config: OperatorConfig, plan: TrafficPlan
) -> list[Obj]:
    """Conditions about revisions, outside Ready: a latest revision that gets no traffic
    because it is not ready (a failed canary says why), and a split the Ingress cannot do."""
    conditions: list[Obj] = []
    if plan.latest != plan.serving and plan.percent(plan.latest) == 0:
        deployment = children.get(("Deployment", plan.latest))
        cond, _ = component_readiness(
            LATEST_REVISION_READY, deployment, pods=revision_pods(children, plan.latest)
        )
        if cond["status"] != "True":
            why = cond.get("message") or cond.get("reason") or ""
            cond["message"] = f"revision {plan.latest} receives no traffic: {why}"
            conditions.append(cond)
    if isvc.spec.predictor.canary_traffic_percent is not None and config.gateway is None:
        conditions.append(
            condition(
                TRAFFIC_SPLIT_UNSUPPORTED,
                "True",
                "NoGateway",
                "canaryTrafficPercent needs a Gateway (operator config gateway): an Ingress "
                "cannot weigh revisions portably, so the component's Service splits traffic "
                "by ready pods",
            )
        )
    return conditions


def revision_splits(status: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(revision URL, percent) of an InferenceService status whose predictor splits traffic
    and has no transformer in front; empty otherwise."""
    components = status.get("components") or {}
    if names.TRANSFORMER in components:
        return []
    traffic = (components.get(names.PREDICTOR) or {}).get("traffic") or []
    targets = [(t["url"], int(t["percent"])) for t in traffic if t.get("percent") and t.get("url")]
    return targets if len(targets) > 1 else []


def isvc_status(
    isvc: InferenceService,
    children: Children,
    config: OperatorConfig,
    now: str,
    failure: Failure | None = None,
    plan: TrafficPlan | None = None,
) -> Obj:
    """The InferenceService's whole status from its live children.

    `failure` (no runtime, invalid spec) means nothing new was rendered: PredictorReady and
    Ready are False with its reason, and no URL is advertised. `plan` says which predictor
    revisions serve; the predictor is as ready as the revision with the most traffic.
    """
    name = isvc.metadata.name or ""
    plan = plan or single(_latest_known(isvc, children))
    parts = [names.PREDICTOR] + ([names.TRANSFORMER] if isvc.spec.transformer else [])
    types = {names.PREDICTOR: PREDICTOR_READY, names.TRANSFORMER: TRANSFORMER_READY}
    conditions: list[Obj] = []
    components: Obj = {}
    predictor_failure: PodFailure | None = None
    deployments = {
        names.PREDICTOR: plan.serving,
        names.TRANSFORMER: names.component(name, names.TRANSFORMER),
    }
    for part in parts:
        deployment_name = names.component(name, part)
        deployment = children.get(("Deployment", deployments[part]))
        if failure is not None and part == names.PREDICTOR:
            conditions.append(condition(types[part], "False", failure.reason, failure.message))
        else:
            pods = (
                revision_pods(children, plan.serving)
                if part == names.PREDICTOR
                else component_pods(children, part)
            )
            idles = part == names.PREDICTOR and isvc.spec.predictor.scales_to_zero
            cond, why = component_readiness(
                types[part], deployment, pods=pods, scales_to_zero=idles
            )
            conditions.append(cond)
            if part == names.PREDICTOR:
                predictor_failure = why
        url = service_url(deployment_name, isvc)
        components[part] = {"url": url, "address": {"url": url}}
    if failure is None:
        urls = {r: service_url(r, isvc) for r in plan.kept}
        ready = {r: revision_ready(children, r) for r in plan.kept}
        components[names.PREDICTOR] |= revision_fields(plan, ready, urls)
    conditions.append(ingress_condition(isvc, children, config))
    conditions.append(ready_condition(conditions))
    conditions += kstatus_conditions(conditions[-1])
    if failure is None:
        conditions += revision_conditions(isvc, children, config, plan)
    predictor_deployment = children.get(("Deployment", plan.serving))
    status: Obj = {
        "observedGeneration": isvc.metadata.generation,
        "conditions": with_transition_times(_previous_conditions(isvc), conditions, now),
        "modelStatus": model_status(
            conditions[0], failure, predictor_deployment, predictor_failure
        ),
    }
    if failure is None:
        entry = service_url(names.component(name, parts[-1]), isvc)
        status["url"] = external_url(isvc, config) or entry
        status["address"] = {"url": entry}
        status["components"] = components
    return {k: v for k, v in status.items() if v is not None}


def _latest_known(isvc: InferenceService, children: Children) -> str:
    """Without a plan (nothing rendered): the revision the status last rolled out, else any
    live predictor revision, else the component's name (no revision exists)."""
    name = isvc.metadata.name or ""
    remembered = (isvc.status.components or {}).get(names.PREDICTOR) if isvc.status else None
    if remembered is not None and remembered.latest_rolledout_revision:
        return remembered.latest_rolledout_revision
    for kind, child_name in children:
        labels = (children[(kind, child_name)].get("metadata") or {}).get("labels") or {}
        if kind == "Deployment" and labels.get(names.COMPONENT_LABEL) == names.PREDICTOR:
            return child_name
    return names.component(name, names.PREDICTOR)


def graph_status(
    graph: InferenceGraph,
    children: Children,
    config: OperatorConfig,
    now: str,
    dependencies: Failure | None = None,
    rejected: Failure | None = None,
) -> Obj:
    """The InferenceGraph's status: router readiness, dependency readiness, ingress.

    `dependencies` says which InferenceServices the graph still waits for, if any;
    `rejected`, that the API server refused one of the router's objects.
    """
    name = graph.metadata.name or ""
    router = children.get(("Deployment", names.router(name)))
    deps = (
        condition(DEPENDENCIES_READY, "True", "AllDependenciesReady")
        if dependencies is None
        else condition(DEPENDENCIES_READY, "False", dependencies.reason, dependencies.message)
    )
    waiting = Failure("WaitingForDependencies", "the router starts once every service resolves")
    router_ready = (
        condition(ROUTER_READY, "False", rejected.reason, rejected.message)
        if rejected is not None
        else component_readiness(
            ROUTER_READY,
            router,
            waiting if dependencies else None,
            component_pods(children, names.ROUTER),
            scales_to_zero=graph.spec.scales_to_zero,
        )[0]
    )
    conditions = [deps, router_ready, ingress_condition(graph, children, config)]
    conditions.append(ready_condition(conditions))
    conditions += kstatus_conditions(conditions[-1])
    status: Obj = {
        "observedGeneration": graph.metadata.generation,
        "conditions": with_transition_times(_previous_conditions(graph), conditions, now),
    }
    if router is not None:
        status["url"] = external_url(graph, config) or service_url(names.router(name), graph)
    return {k: v for k, v in status.items() if v is not None}


def invalid_status(obj: Mapping[str, Any], message: str, now: str) -> Obj:
    """Status of an object that does not parse (a CRD older than the operator, say)."""
    previous = (obj.get("status") or {}).get("conditions") or []
    cond = condition(READY, "False", "InvalidSpec", message[:1000])
    return {
        "observedGeneration": (obj.get("metadata") or {}).get("generation"),
        "conditions": with_transition_times(previous, [cond, *kstatus_conditions(cond)], now),
    }
