"""Status of InferenceServices and InferenceGraphs, computed from their children (pure).

Conditions follow the Knative/KServe shape; a condition keeps its lastTransitionTime
while its status stays the same, so an unchanged world yields an identical status
(and the reconciler skips the patch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelplane.api import InferenceGraph, InferenceService
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.health import kstatus_conditions
from modelplane.operator.ingress_status import Route, ingress_condition
from modelplane.operator.pod_reasons import PodFailure
from modelplane.operator.render.network import external_url, service_url
from modelplane.operator.revision_status import revision_conditions, revision_pods, revision_ready
from modelplane.operator.status_parts import (
    DEPENDENCIES_READY,
    PREDICTOR_READY,
    READY,
    ROUTER_READY,
    TRANSFORMER_READY,
    Children,
    Failure,
    Obj,
    component_pods,
    component_readiness,
    condition,
    failure_info,
    ready_condition,
    with_transition_times,
)
from modelplane.operator.traffic import TrafficPlan, revision_fields, single


def _previous_conditions(owner: InferenceService | InferenceGraph) -> list[Obj]:
    if owner.status is None:
        return []
    return [c.to_dict() for c in owner.status.conditions]


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


def isvc_status(
    isvc: InferenceService,
    children: Children,
    config: OperatorConfig,
    now: str,
    failure: Failure | None = None,
    plan: TrafficPlan | None = None,
    route: Route | None = None,
) -> Obj:
    """The InferenceService's whole status from its live children.

    `failure` (no runtime, invalid spec) means nothing new was rendered: PredictorReady and
    Ready are False with its reason, and no URL is advertised. `plan` says which predictor
    revisions serve; the predictor is as ready as the revision with the most traffic.
    `route`: what a probe through the ingress found (`ingress_condition`).
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
    conditions.append(ingress_condition(isvc, children, config, route))
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
    route: Route | None = None,
) -> Obj:
    """The InferenceGraph's status: router readiness, dependency readiness, ingress.

    `dependencies` says which InferenceServices the graph still waits for, if any;
    `rejected`, that the API server refused one of the router's objects; `route`, what a
    probe through the ingress found.
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
    conditions = [deps, router_ready, ingress_condition(graph, children, config, route)]
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
