"""Multi-model pools under the running operator on the kwok tier: the pool renders, pooled
InferenceServices get no Deployment, and without real pods their status says why.

kwok's pods run nothing, so the operator's calls to pool replicas answer "kwok pods run no
server" (conftest.KwokReplicas): what a real cluster shows when a pool pod does not answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kopf.testing import KopfRunner

from modelplane.operator import names
from tests.cluster.operator.conftest import (
    Kubectl,
    KwokReplicas,
    create_namespace,
    delete_namespace,
    eventually,
)

pytestmark = pytest.mark.cluster

RUNTIME = "pool"
MEMBERS = ("alpha", "beta")


def runtime() -> dict[str, Any]:
    return {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": RUNTIME},
        "spec": {
            "multiModel": True,
            "replicas": 2,
            "capacity": {"memory": "1Gi"},
            "supportedModelFormats": [{"name": "onnx"}],
            "containers": [
                {"name": "model-server", "image": "modelplane/model-server:0.1.0",
                 "args": ["serve"]}
            ],
        },
    }  # fmt: skip


def isvc(name: str, **predictor: Any) -> dict[str, Any]:
    model = {
        "modelFormat": {"name": "onnx"},
        "runtime": RUNTIME,
        "storageUri": f"s3://models/{name}",
        "resources": {"requests": {"memory": "100Mi"}},
    }
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": {"model": model, **predictor}},
    }


@pytest.fixture(scope="module")
def pool_namespace(kubectl: Kubectl, operator: KopfRunner) -> Iterator[str]:
    namespace = create_namespace(kubectl, "pool")
    items = [runtime(), *(isvc(n) for n in MEMBERS), isvc("canary", canaryTrafficPercent=10)]
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    kubectl("apply", "-n", namespace, "-f", "-", input=body)
    try:
        yield namespace
    finally:
        delete_namespace(kubectl, namespace)


def test_the_pool_renders_owned_by_its_members(kubectl: Kubectl, pool_namespace: str) -> None:
    pool = names.pool(RUNTIME)

    def statefulset() -> dict[str, Any] | None:
        found = kubectl.get("statefulset", pool, pool_namespace)
        owners = ((found or {}).get("metadata") or {}).get("ownerReferences") or []
        return found if sorted(o["name"] for o in owners) == sorted(MEMBERS) else None

    found = eventually(statefulset, 60, "the pool StatefulSet owned by both members")
    assert found["spec"]["replicas"] == 2
    args = found["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--memory-capacity={2**30}" in args
    service = kubectl.get("service", pool, pool_namespace) or {}
    assert service["spec"]["clusterIP"] == "None"
    eventually(
        lambda: len(kubectl.items("pods", pool_namespace, f"{names.POOL_LABEL}={RUNTIME}")) == 2,
        60,
        "two pool pods (kwok)",
    )


def test_pooled_models_get_no_deployment_but_their_service_and_ingress(
    kubectl: Kubectl, pool_namespace: str
) -> None:
    for name in MEMBERS:
        service = eventually(
            lambda n=name: kubectl.get("service", f"{n}-predictor", pool_namespace),
            60,
            f"{name}'s predictor Service",
        )
        assert service["spec"]["selector"] == {
            names.POOL_LABEL: RUNTIME,
            names.model_label(name): "true",
        }
        eventually(lambda n=name: kubectl.get("ingress", n, pool_namespace), 60, "its Ingress")
    assert kubectl.items("deployments", pool_namespace) == []


def test_without_real_pods_the_status_says_why(kubectl: Kubectl, pool_namespace: str) -> None:
    def why() -> dict[str, Any] | None:
        cond = kubectl.condition("isvc", "alpha", pool_namespace, "Ready")
        message = (cond or {}).get("message") or ""
        return cond if KwokReplicas.WHY in message else None

    cond = eventually(why, 90, "alpha's Ready naming the unreachable pool replicas")
    assert cond["status"] == "False" and cond["reason"] == "PoolNotReady", cond
    assert f"{names.pool(RUNTIME)}-0: unreachable" in cond["message"], cond
    found = kubectl.get("isvc", "alpha", pool_namespace) or {}
    model_status = found["status"]["modelStatus"]
    assert model_status["states"]["activeModelState"] == "Pending"
    assert model_status["placement"]["pool"] == names.pool(RUNTIME)


def test_what_the_pool_cannot_do_is_refused(kubectl: Kubectl, pool_namespace: str) -> None:
    def refused() -> dict[str, Any] | None:
        cond = kubectl.condition("isvc", "canary", pool_namespace, "Ready")
        return cond if (cond or {}).get("reason") == "InvalidPredictorSpec" else None

    cond = eventually(refused, 60, "the canary refused")
    assert "canaryTrafficPercent: a pooled model has no revisions" in cond["message"]


def test_the_pool_goes_with_its_last_member(kubectl: Kubectl, pool_namespace: str) -> None:
    kubectl("delete", "isvc", *MEMBERS, "canary", "-n", pool_namespace)
    eventually(
        lambda: kubectl.get("statefulset", names.pool(RUNTIME), pool_namespace) is None,
        90,
        "the pool StatefulSet deleted",
    )
