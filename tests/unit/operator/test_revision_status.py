"""Status of revisions and routes: the serving revision's readiness, a failed canary's
reason, the route's acceptance by its Gateway, and the split Ingress mode cannot do."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.api import InferenceService, InferenceServiceStatus
from modelplane.operator.config import OperatorConfig
from modelplane.operator.revision_status import revision_splits
from modelplane.operator.status import isvc_status
from modelplane.operator.traffic import TrafficPlan

NOW = "2026-01-01T00:00:00Z"
OLD, NEW = "m-predictor-aaaaaaaa", "m-predictor-bbbbbbbb"
GATEWAY = OperatorConfig(
    ingress_domain="models.test",
    gateway={"name": "gw", "namespace": "gws"},  # type: ignore[arg-type]
)
INGRESS = OperatorConfig(ingress_domain="models.test")
Obj = dict[str, Any]


def isvc(percent: int | None = 20) -> InferenceService:
    predictor: Obj = {"model": {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://m/x"}}
    if percent is not None:
        predictor["canaryTrafficPercent"] = percent
    return InferenceService.model_validate(
        {
            "apiVersion": "serving.modelplane.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "m", "namespace": "ns", "generation": 2},
            "spec": {"predictor": predictor},
        }
    )


def deployment(name: str, available: bool) -> Obj:
    return {
        "metadata": {"name": name},
        "status": {
            "replicas": 1,
            "readyReplicas": 1 if available else 0,
            "conditions": [{"type": "Available", "status": "True" if available else "False"}],
        },
    }


def failing_pod(revision: str) -> Obj:
    return {
        "metadata": {
            "name": f"{revision}-x",
            "labels": {
                "serving.modelplane.io/component": "predictor",
                "serving.modelplane.io/revision": revision,
            },
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "kserve-container",
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "message": "ModelLoadFailed: m: cannot parse model.onnx",
                        }
                    },
                }
            ]
        },
    }


def route(conditions: list[Obj] | None) -> Obj:
    status = {}
    if conditions is not None:
        status = {
            "parents": [
                {
                    "parentRef": {"name": "gw", "namespace": "gws"},
                    "conditions": conditions,
                }
            ]
        }
    return {"metadata": {"name": "m", "namespace": "ns"}, "status": status}


ACCEPTED = [
    {"type": "Accepted", "status": "True", "reason": "Accepted"},
    {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs"},
]


def by_type(status: Obj) -> dict[str, Obj]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_failed_canary_leaves_ready_true_and_says_why_it_gets_no_traffic() -> None:
    children = {
        ("Deployment", OLD): deployment(OLD, True),
        ("Deployment", NEW): deployment(NEW, False),
        ("Pod", f"{NEW}-x"): failing_pod(NEW),
        ("HTTPRoute", "m"): route(ACCEPTED),
    }
    plan = TrafficPlan(NEW, ((OLD, 100), (NEW, 0)), OLD)
    status = isvc_status(isvc(), children, GATEWAY, NOW, plan=plan)
    found = by_type(status)
    assert found["Ready"]["status"] == "True"
    assert found["PredictorReady"]["status"] == "True"
    latest = found["LatestRevisionReady"]
    assert (latest["status"], latest["reason"]) == ("False", "ModelLoadFailed")
    assert latest["message"].startswith(f"revision {NEW} receives no traffic: ")
    predictor = status["components"]["predictor"]
    assert predictor["latestReadyRevision"] == OLD
    assert predictor["traffic"] == [
        {
            "revisionName": OLD,
            "percent": 100,
            "latestRevision": False,
            "url": f"http://{OLD}.ns.svc.cluster.local",
        },
        {
            "revisionName": NEW,
            "percent": 0,
            "latestRevision": True,
            "url": f"http://{NEW}.ns.svc.cluster.local",
        },
    ]
    assert "TrafficSplitUnsupported" not in found
    assert InferenceServiceStatus.model_validate(status).to_dict() == status


def test_ingress_mode_says_the_split_is_unsupported() -> None:
    children = {("Deployment", OLD): deployment(OLD, True), ("Ingress", "m"): {"status": {}}}
    status = isvc_status(isvc(), children, INGRESS, NOW, plan=TrafficPlan(OLD, ((OLD, 100),), OLD))
    unsupported = by_type(status)["TrafficSplitUnsupported"]
    assert unsupported["status"] == "True" and "Gateway" in unsupported["message"]
    assert by_type(status)["Ready"]["status"] == "True"
    without = isvc_status(
        isvc(None), children, INGRESS, NOW, plan=TrafficPlan(OLD, ((OLD, 100),), OLD)
    )
    assert "TrafficSplitUnsupported" not in by_type(without)


@pytest.mark.parametrize(
    ("route_obj", "status", "reason"),
    [
        (None, "False", "RouteMissing"),
        (route(None), "Unknown", "RoutePending"),
        (route(ACCEPTED), "True", "RouteAccepted"),
        (
            route(
                [
                    {"type": "Accepted", "status": "True", "reason": "Accepted"},
                    {"type": "ResolvedRefs", "status": "False", "reason": "BackendNotFound"},
                ]
            ),
            "False",
            "BackendNotFound",
        ),
        (
            route([{"type": "Accepted", "status": "False", "reason": "NotAllowedByListeners"}]),
            "False",
            "NotAllowedByListeners",
        ),
    ],
)
def test_ingress_ready_comes_from_the_routes_parent_status(
    route_obj: Obj | None, status: str, reason: str
) -> None:
    children: dict[tuple[str, str], Obj] = {("Deployment", OLD): deployment(OLD, True)}
    if route_obj is not None:
        children[("HTTPRoute", "m")] = route_obj
    found = by_type(
        isvc_status(isvc(None), children, GATEWAY, NOW, plan=TrafficPlan(OLD, ((OLD, 100),), OLD))
    )
    assert (found["IngressReady"]["status"], found["IngressReady"]["reason"]) == (status, reason)


def test_a_split_is_read_back_for_graphs_only_without_a_transformer() -> None:
    traffic = [
        {"revisionName": OLD, "percent": 80, "url": "http://old"},
        {"revisionName": NEW, "percent": 20, "url": "http://new"},
    ]
    status = {"components": {"predictor": {"traffic": traffic}}}
    assert revision_splits(status) == [("http://old", 80), ("http://new", 20)]
    with_transformer = {"components": {"predictor": {"traffic": traffic}, "transformer": {}}}
    assert revision_splits(with_transformer) == []
    one = {"components": {"predictor": {"traffic": [{**traffic[0], "percent": 100}]}}}
    assert revision_splits(one) == []
