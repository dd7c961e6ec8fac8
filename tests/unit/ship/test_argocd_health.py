"""The Argo CD health check, run by Lua 5.1 on statuses the operator's status functions make.

The same script runs on objects captured live in the cluster tiers
(tests/cluster/operator/test_operator_reconciles_samples.py, e2e/test_samples_real.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from modelplane.operator.config import OperatorConfig
from modelplane.operator.status import graph_status, isvc_status
from modelplane.operator.status_parts import Failure
from tests.support.argocd import SCRIPT, health, lua_available, lua_literal
from tests.unit.operator.test_pod_reasons import LOAD, PULL, UNSCHEDULABLE
from tests.unit.operator.test_status_table import (
    AVAILABLE,
    NOW,
    UNAVAILABLE,
    deployment,
    graph,
    isvc,
)

pytestmark = pytest.mark.skipif(not lua_available(), reason="needs lua5.1 (make lua, as root)")

Obj = dict[str, Any]
CONFIG = OperatorConfig()


def isvc_object(status: Obj | None, generation: int = 4) -> Obj:
    obj = isvc().model_dump(by_alias=True, exclude_none=True)
    obj["metadata"]["generation"] = generation
    if status is not None:
        obj["status"] = status
    return obj


def with_pod(the_pod: Obj) -> Obj:
    children = {
        ("Deployment", "m-predictor"): deployment("m-predictor", UNAVAILABLE),
        ("Pod", the_pod["metadata"]["name"]): the_pod,
    }
    return isvc_status(isvc(), children, CONFIG, NOW)


READY = isvc_status(
    isvc(),
    {("Deployment", "m-predictor"): deployment("m-predictor", AVAILABLE, ready=1)},
    CONFIG,
    NOW,
)
STARTING = isvc_status(
    isvc(), {("Deployment", "m-predictor"): deployment("m-predictor", UNAVAILABLE)}, CONFIG, NOW
)


@pytest.mark.parametrize(
    ("obj", "expected", "in_message"),
    [
        (isvc_object(READY), "Healthy", "http://m-predictor.ns.svc.cluster.local"),
        (isvc_object(STARTING), "Progressing", "MinimumReplicasUnavailable"),
        (isvc_object(with_pod(UNSCHEDULABLE)), "Progressing", "Unschedulable"),
        (isvc_object(with_pod(LOAD)), "Degraded", "ModelLoadFailed"),
        (isvc_object(with_pod(PULL)), "Degraded", "ImagePullBackOff"),
        (
            isvc_object(isvc_status(isvc(), {}, CONFIG, NOW, Failure("RuntimeNotRecognized", "runtime 'x' not found"))),
            "Degraded",
            "runtime 'x' not found",
        ),
        (isvc_object(READY, generation=5), "Progressing", "generation 5"),  # spec not seen yet
        (isvc_object(None), "Progressing", "Waiting for the modelplane operator"),
    ],
    ids=["ready", "starting", "unschedulable", "load-failed", "image", "no-runtime", "old-generation", "no-status"],
)  # fmt: skip
def test_isvc_health(obj: Obj, expected: str, in_message: str) -> None:
    status, message = health(obj)
    assert status == expected, message
    assert in_message in message


@pytest.mark.parametrize(
    ("dependencies", "rejected", "expected"),
    [
        (None, None, "Progressing"),  # no router Deployment yet
        (Failure("DependencyNotReady", "InferenceService(s) not ready: a"), None, "Progressing"),
        (None, Failure("ApplyRejected", "Deployment g-router: invalid"), "Degraded"),
    ],
)
def test_graph_health(
    dependencies: Failure | None, rejected: Failure | None, expected: str
) -> None:
    obj = graph().model_dump(by_alias=True, exclude_none=True)
    obj["status"] = graph_status(graph(), {}, CONFIG, NOW, dependencies, rejected)
    assert health(obj)[0] == expected


def test_ready_graph_is_healthy() -> None:
    children = {("Deployment", "g-router"): deployment("g-router", AVAILABLE, ready=1)}
    obj = graph().model_dump(by_alias=True, exclude_none=True)
    obj["status"] = graph_status(graph(), children, CONFIG, NOW)
    assert health(obj) == ("Healthy", "http://g-router.ns.svc.cluster.local")


def test_strings_reach_lua_byte_for_byte() -> None:
    tricky = 'quote " backslash \\ newline \n tab \t digit-after-escape \x01' + "1 ünïcødé ✓"
    obj = isvc_object(None)
    obj["status"] = {
        "observedGeneration": 4,
        "conditions": [{"type": "Stalled", "status": "True", "reason": "X", "message": tricky}],
    }
    assert health(obj) == ("Degraded", f"X: {tricky}")
    assert lua_literal(None) == "nil" and lua_literal([1, 2]) == "{1, 2}"


def test_the_documented_snippet_carries_the_script_unchanged() -> None:
    snippet = yaml.safe_load((SCRIPT.parent / "argocd-values.yaml").read_text())
    customizations = snippet["configs"]["cm"]
    script = SCRIPT.read_text()
    for kind in ("InferenceService", "InferenceGraph"):
        assert customizations[f"resource.customizations.health.serving.modelplane.io_{kind}"] == (
            script
        )
