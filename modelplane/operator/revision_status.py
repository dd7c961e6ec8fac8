"""The predictor's revisions in the status (pure): which pods and Deployment are a revision's,
the conditions about a revision that gets no traffic or a split the Ingress cannot do, and the
split a graph step follows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelplane.api import InferenceService
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.status_parts import (
    LATEST_REVISION_READY,
    READY,
    TRAFFIC_SPLIT_UNSUPPORTED,
    Children,
    Obj,
    component_pods,
    component_readiness,
    condition,
)
from modelplane.operator.traffic import TrafficPlan


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
