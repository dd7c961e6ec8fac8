"""Status computed from children: conditions, reasons, URLs, modelStatus, transitions."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.api import (
    InferenceGraph,
    InferenceGraphStatus,
    InferenceService,
    InferenceServiceStatus,
)
from modelplane.operator.config import OperatorConfig
from modelplane.operator.status import graph_status, isvc_status
from modelplane.operator.status_parts import (
    Failure,
    deployment_condition,
    ready_condition,
    with_transition_times,
)

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"


def deployment(
    name: str, *conditions: tuple[str, str, str], ready: int = 0, replicas: int = 1
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": 1},
        "spec": {"replicas": replicas},
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "conditions": [
                {"type": t, "status": s, "reason": r, "message": f"{t} {r}"}
                for t, s, r in conditions
            ],
        },
    }


AVAILABLE = ("Available", "True", "MinimumReplicasAvailable")
UNAVAILABLE = ("Available", "False", "MinimumReplicasUnavailable")
STUCK = ("Progressing", "False", "ProgressDeadlineExceeded")


@pytest.mark.parametrize(
    ("dep", "status", "reason"),
    [
        (None, "False", "DeploymentMissing"),
        ({"metadata": {"name": "d"}}, "Unknown", "DeploymentPending"),
        (deployment("d", AVAILABLE, ready=1), "True", "MinimumReplicasAvailable"),
        (deployment("d", UNAVAILABLE), "False", "MinimumReplicasUnavailable"),
        (deployment("d", AVAILABLE, STUCK, ready=1), "False", "ProgressDeadlineExceeded"),
    ],
)
def test_deployment_condition_table(dep: dict[str, Any] | None, status: str, reason: str) -> None:
    cond = deployment_condition("PredictorReady", dep)
    assert (cond["type"], cond["status"], cond["reason"]) == ("PredictorReady", status, reason)


def test_ready_is_the_first_false_then_unknown_part() -> None:
    parts = [
        {"type": "PredictorReady", "status": "Unknown", "reason": "DeploymentPending"},
        {"type": "IngressReady", "status": "False", "reason": "IngressMissing", "message": "gone"},
    ]
    assert ready_condition(parts) == {
        "type": "Ready",
        "status": "False",
        "reason": "IngressMissing",
        "message": "IngressReady: gone",
    }
    assert ready_condition(parts[:1])["status"] == "Unknown"
    assert ready_condition([{"type": "A", "status": "True"}]) == {"type": "Ready", "status": "True"}


def test_transition_time_kept_while_status_unchanged() -> None:
    first = with_transition_times([], [{"type": "Ready", "status": "False"}], NOW)
    same = with_transition_times(
        first, [{"type": "Ready", "status": "False", "reason": "X"}], LATER
    )
    flipped = with_transition_times(same, [{"type": "Ready", "status": "True"}], LATER)
    assert first[0]["lastTransitionTime"] == NOW
    assert same[0]["lastTransitionTime"] == NOW
    assert flipped[0]["lastTransitionTime"] == LATER


def isvc(transformer: bool = False, status: dict[str, Any] | None = None) -> InferenceService:
    spec: dict[str, Any] = {"predictor": {"model": {"modelFormat": {"name": "onnx"}}}}
    if transformer:
        spec["transformer"] = {"containers": [{"name": "t", "image": "t"}]}
    body: dict[str, Any] = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "ns", "generation": 4},
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return InferenceService.model_validate(body)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}


def test_ready_isvc_status() -> None:
    children = {
        ("Deployment", "m-predictor"): deployment("m-predictor", AVAILABLE, ready=2, replicas=2)
    }
    status = isvc_status(isvc(), children, OperatorConfig(), NOW)
    assert conditions(status) == {
        "PredictorReady": ("True", "MinimumReplicasAvailable"),
        "IngressReady": ("True", "ClusterLocal"),
        "Ready": ("True", None),
    }
    assert status["observedGeneration"] == 4
    assert status["url"] == "http://m-predictor.ns.svc.cluster.local"
    assert status["address"] == {"url": "http://m-predictor.ns.svc.cluster.local"}
    assert status["components"]["predictor"]["url"] == "http://m-predictor.ns.svc.cluster.local"
    assert status["modelStatus"] == {
        "transitionStatus": "UpToDate",
        "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
        "copies": {"totalCopies": 2, "failedCopies": 0},
    }
    assert InferenceServiceStatus.model_validate(status).to_dict() == status  # no unknown fields


def test_ingress_url_and_transformer_entry() -> None:
    config = OperatorConfig(ingress_domain="example.com")
    children = {
        ("Deployment", "m-predictor"): deployment("m-predictor", AVAILABLE, ready=1),
        ("Deployment", "m-transformer"): deployment("m-transformer", UNAVAILABLE),
        ("Ingress", "m"): {
            "metadata": {"name": "m"},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}},
        },
    }
    status = isvc_status(isvc(transformer=True), children, config, NOW)
    assert conditions(status) == {
        "PredictorReady": ("True", "MinimumReplicasAvailable"),
        "TransformerReady": ("False", "MinimumReplicasUnavailable"),
        "IngressReady": ("True", "IngressAdmitted"),
        "Ready": ("False", "MinimumReplicasUnavailable"),
        "Reconciling": ("True", "MinimumReplicasUnavailable"),  # kstatus: still progressing
    }
    assert status["url"] == "http://m-ns.example.com"
    assert status["address"]["url"] == "http://m-transformer.ns.svc.cluster.local"
    assert InferenceServiceStatus.model_validate(status).to_dict() == status


def test_missing_ingress_is_not_ready() -> None:
    children = {("Deployment", "m-predictor"): deployment("m-predictor", AVAILABLE, ready=1)}
    status = isvc_status(isvc(), children, OperatorConfig(ingress_domain="x.io"), NOW)
    assert conditions(status)["IngressReady"] == ("False", "IngressMissing")
    assert conditions(status)["Ready"] == ("False", "IngressMissing")


@pytest.mark.parametrize(
    "reason", ["NoSupportingRuntime", "RuntimeNotRecognized", "RuntimeDisabled"]
)
def test_runtime_failure_status(reason: str) -> None:
    status = isvc_status(isvc(), {}, OperatorConfig(), NOW, Failure(reason, "why"))
    assert conditions(status)["PredictorReady"] == ("False", reason)
    assert conditions(status)["Ready"] == ("False", reason)
    assert "url" not in status and "address" not in status
    assert status["modelStatus"]["transitionStatus"] == "InvalidSpec"
    assert status["modelStatus"]["lastFailureInfo"] == {"reason": reason, "message": "why"}
    assert InferenceServiceStatus.model_validate(status).to_dict() == status


def test_stuck_rollout_without_a_pod_reason_is_a_failed_load() -> None:
    children = {("Deployment", "m-predictor"): deployment("m-predictor", UNAVAILABLE, STUCK)}
    status = isvc_status(isvc(), children, OperatorConfig(), NOW)
    assert status["modelStatus"]["transitionStatus"] == "BlockedByFailedLoad"
    assert status["modelStatus"]["lastFailureInfo"] == {
        "reason": "ProgressDeadlineExceeded",
        "message": "Progressing ProgressDeadlineExceeded",
    }


def test_pending_model_status() -> None:
    children = {("Deployment", "m-predictor"): deployment("m-predictor", UNAVAILABLE)}
    status = isvc_status(isvc(), children, OperatorConfig(), NOW)
    assert status["modelStatus"]["states"] == {
        "activeModelState": "Pending",
        "targetModelState": "Loading",
    }


def test_unchanged_world_gives_an_identical_status() -> None:
    children = {("Deployment", "m-predictor"): deployment("m-predictor", AVAILABLE, ready=1)}
    first = isvc_status(isvc(), children, OperatorConfig(), NOW)
    second = isvc_status(isvc(status=first), children, OperatorConfig(), LATER)
    assert second == first


def graph() -> InferenceGraph:
    return InferenceGraph.model_validate(
        {
            "apiVersion": "serving.modelplane.io/v1alpha1",
            "kind": "InferenceGraph",
            "metadata": {"name": "g", "namespace": "ns", "generation": 2},
            "spec": {
                "nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "a"}]}}
            },
        }
    )


def test_graph_waiting_for_dependencies() -> None:
    status = graph_status(graph(), {}, OperatorConfig(), NOW, Failure("DependencyNotReady", "a"))
    assert conditions(status) == {
        "DependenciesReady": ("False", "DependencyNotReady"),
        "RouterReady": ("Unknown", "WaitingForDependencies"),
        "IngressReady": ("True", "ClusterLocal"),
        "Ready": ("False", "DependencyNotReady"),
        "Reconciling": ("True", "DependencyNotReady"),  # the dependency may still come
    }
    assert "url" not in status
    assert InferenceGraphStatus.model_validate(status).to_dict() == status


def test_graph_ready() -> None:
    children = {("Deployment", "g-router"): deployment("g-router", AVAILABLE, ready=1)}
    status = graph_status(graph(), children, OperatorConfig(), NOW)
    assert conditions(status)["Ready"] == ("True", None)
    assert status["url"] == "http://g-router.ns.svc.cluster.local"
    assert status["observedGeneration"] == 2


def test_graph_router_refused() -> None:
    status = graph_status(graph(), {}, OperatorConfig(), NOW, None, Failure("ApplyRejected", "bad"))
    assert conditions(status)["RouterReady"] == ("False", "ApplyRejected")
    assert conditions(status)["Ready"] == ("False", "ApplyRejected")
    assert conditions(status)["Stalled"] == ("True", "ApplyRejected")
    assert "Reconciling" not in conditions(status)
