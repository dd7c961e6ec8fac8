"""Every sample, applied with kubectl, becomes Ready under the running operator.

One namespace holds all samples for the module; the tests after the first act on it
(edit, delete a child, delete a resource) in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner

from modelplane.api import load_resources
from tests.cluster.operator.conftest import (
    ROOT,
    Kubectl,
    create_namespace,
    delete_namespace,
    eventually,
)
from tests.support.argocd import health, lua_available
from tests.unit.operator.samples import SAMPLES, render_sample

pytestmark = pytest.mark.cluster

KIND_NAMES = {
    "InferenceService": "inferenceservice",
    "InferenceGraph": "inferencegraph",
    "Deployment": "deployment",
    "Service": "service",
    "HorizontalPodAutoscaler": "horizontalpodautoscaler.autoscaling",
    "Ingress": "ingress.networking.k8s.io",
    "ConfigMap": "configmap",
}
GPU_NODE = "kwok-gpu-0"


def revision(kubectl: Kubectl, isvc: str, namespace: str) -> str:
    """The InferenceService's latest predictor revision (its Deployment, Service and HPA)."""
    found = kubectl.get("isvc", isvc, namespace) or {}
    name: str = found["status"]["components"]["predictor"]["latestCreatedRevision"]
    return name


def sample_resources() -> list[tuple[str, str]]:
    """(kind, name) of every custom resource in the samples."""
    return [(r.KIND, r.metadata.name or "") for path in SAMPLES for r in load_resources(path)]


@pytest.fixture(scope="module")
def samples(kubectl: Kubectl, operator: KopfRunner) -> Iterator[str]:
    """A namespace with every sample applied and Ready."""
    kubectl("label", "node", GPU_NODE, "nvidia.com/mig.strategy=mixed", "--overwrite")
    namespace = create_namespace(kubectl, "samples")
    try:
        kubectl("apply", "-n", namespace, *[a for p in SAMPLES for a in ("-f", str(p))])
        for kind, name in sample_resources():
            eventually(
                lambda k=kind, n=name: kubectl.ready(KIND_NAMES[k], n, namespace),
                timeout=120,
                what=f"{kind} {name} Ready",
            )
        yield namespace
    finally:
        delete_namespace(kubectl, namespace)


def test_every_sample_is_ready_with_owned_children(kubectl: Kubectl, samples: str) -> None:
    for path in SAMPLES:
        owners = {r.metadata.name: r.KIND for r in load_resources(path)}
        for expected in render_sample(path):
            kind, name = expected["kind"], expected["metadata"]["name"]
            live = kubectl.get(KIND_NAMES[kind], name, samples)
            assert live is not None, f"{path.name}: {kind} {name} missing"
            (ref,) = live["metadata"]["ownerReferences"]
            owner_name = expected["metadata"]["ownerReferences"][0]["name"]
            owner = kubectl.get(KIND_NAMES[owners[owner_name]], owner_name, samples)
            assert owner is not None
            assert ref["uid"] == owner["metadata"]["uid"]
            assert ref["controller"] is True
            managers = json.loads(
                kubectl(
                    "get",
                    KIND_NAMES[kind],
                    name,
                    "-n",
                    samples,
                    "-o",
                    "json",
                    "--show-managed-fields",
                )
            )["metadata"]["managedFields"]
            assert {"modelplane", "Apply"} <= {m["manager"] for m in managers} | {
                m["operation"] for m in managers if m["manager"] == "modelplane"
            }


def test_status_fields_of_a_ready_service(kubectl: Kubectl, samples: str) -> None:
    isvc = kubectl.get("inferenceservice", "iris-onnx", samples)
    assert isvc is not None
    status = isvc["status"]
    assert status["url"] == f"http://iris-onnx-{samples}.models.example.com"
    assert status["address"]["url"] == f"http://iris-onnx-predictor.{samples}.svc.cluster.local"
    assert status["observedGeneration"] == isvc["metadata"]["generation"]
    assert status["modelStatus"]["states"]["activeModelState"] == "Loaded"
    types = {c["type"]: c["status"] for c in status["conditions"]}
    assert types == {"PredictorReady": "True", "IngressReady": "True", "Ready": "True"}
    printed = kubectl("get", "isvc", "iris-onnx", "-n", samples)
    assert "True" in printed and "models.example.com" in printed


@pytest.mark.parametrize("name", ["resnet-onnx-gpu", "resnet-onnx-mig"])
def test_gpu_pods_land_on_the_gpu_node(kubectl: Kubectl, samples: str, name: str) -> None:
    pods = kubectl.items("pods", samples, f"serving.modelplane.io/inferenceservice={name}")
    assert pods, f"no pods for {name}"
    assert {p["spec"]["nodeName"] for p in pods} == {GPU_NODE}
    cpu_pods = kubectl.items("pods", samples, "serving.modelplane.io/inferenceservice=iris-onnx")
    assert {p["spec"]["nodeName"] for p in cpu_pods} == {"kwok-cpu-0"}


def test_graph_config_map_holds_resolved_urls(kubectl: Kubectl, samples: str) -> None:
    config_map = kubectl.get("configmap", "iris-pipeline-graph", samples)
    assert config_map is not None
    graph = json.loads(config_map["data"]["graph.json"])
    urls = [s["serviceUrl"] for s in graph["nodes"]["root"]["steps"]]
    assert urls == [
        f"http://iris-onnx-predictor.{samples}.svc.cluster.local/v2/models/iris-onnx/infer",
        f"http://iris-labels-predictor.{samples}.svc.cluster.local/v2/models/iris-labels/infer",
    ]


def test_editing_max_replicas_updates_the_hpa(kubectl: Kubectl, samples: str) -> None:
    patch = {"spec": {"predictor": {"maxReplicas": 7}}}
    kubectl(
        "patch", "isvc", "iris-autoscaled", "-n", samples, "--type=merge", "-p", json.dumps(patch)
    )

    name = revision(kubectl, "iris-autoscaled", samples)

    def max_replicas() -> bool:
        hpa = kubectl.get(KIND_NAMES["HorizontalPodAutoscaler"], name, samples)
        return hpa is not None and hpa["spec"]["maxReplicas"] == 7

    eventually(max_replicas, timeout=30, what="HPA maxReplicas 7")


def test_min_equals_max_removes_the_hpa(kubectl: Kubectl, samples: str) -> None:
    patch = {"spec": {"predictor": {"minReplicas": 2, "maxReplicas": 2}}}
    kubectl(
        "patch", "isvc", "iris-autoscaled", "-n", samples, "--type=merge", "-p", json.dumps(patch)
    )
    hpa = KIND_NAMES["HorizontalPodAutoscaler"]
    name = revision(kubectl, "iris-autoscaled", samples)  # scaling changes no pod template
    eventually(
        lambda: kubectl.get(hpa, name, samples) is None,
        timeout=30,
        what="HPA deleted",
    )

    def two_replicas() -> bool:
        deployment = kubectl.get("deployment", name, samples) or {}
        return (deployment.get("spec") or {}).get("replicas") == 2

    eventually(two_replicas, timeout=30, what="Deployment replicas 2")


@pytest.mark.parametrize(
    ("kind", "name"),
    [("service", "iris-batched-predictor"), ("deployment", None)],
)
def test_a_deleted_child_is_restored(
    kubectl: Kubectl, samples: str, kind: str, name: str | None
) -> None:
    name = name or revision(kubectl, "iris-batched", samples)
    before = kubectl.get(kind, name, samples)
    assert before is not None
    kubectl("delete", kind, name, "-n", samples, "--wait=false")

    def restored() -> bool:
        now = kubectl.get(kind, name, samples)
        return now is not None and now["metadata"]["uid"] != before["metadata"]["uid"]

    eventually(restored, timeout=30, what=f"{kind} {name} recreated")


def test_a_hand_edit_of_a_child_is_reverted(kubectl: Kubectl, samples: str) -> None:
    name = "iris-labels-predictor"  # the component's Service
    deployment_name = revision(kubectl, "iris-labels", samples)
    original = (kubectl.get("deployment", deployment_name, samples) or {})["spec"]["template"][
        "spec"
    ]
    image_before = original["containers"][0]["image"]
    container = original["containers"][0]["name"]
    kubectl(
        "set",
        "image",
        f"deployment/{deployment_name}",
        f"{container}=example/other:1",
        "-n",
        samples,
    )
    kubectl(
        "label",
        "service",
        name,
        "-n",
        samples,
        "app.kubernetes.io/managed-by=someone",
        "--overwrite",
    )

    def reverted() -> bool:
        deployment = kubectl.get("deployment", deployment_name, samples) or {}
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        service = kubectl.get("service", name, samples) or {}
        label = service["metadata"]["labels"].get("app.kubernetes.io/managed-by")
        return image == image_before and label == "modelplane"

    eventually(reverted, timeout=60, what="image and label restored")


def test_deleting_the_resource_removes_its_children(kubectl: Kubectl, samples: str) -> None:
    kubectl("delete", "isvc", "iris-transformed", "-n", samples, "--wait=true", "--timeout=30s")
    selector = "serving.modelplane.io/inferenceservice=iris-transformed"

    def gone() -> bool:
        return all(
            not kubectl.items(kind, samples, selector)
            for kind in ("deployments", "services", "ingresses", "pods")
        )

    eventually(gone, timeout=60, what="children garbage-collected")


def test_unknown_runtime_reports_the_reason_and_creates_nothing(
    kubectl: Kubectl, samples: str
) -> None:
    isvc = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "no-runtime"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "onnx"}, "runtime": "nope"}}},
    }
    kubectl("apply", "-n", samples, "-f", "-", input=yaml.safe_dump(isvc))

    def reason() -> Any:
        cond = kubectl.condition("isvc", "no-runtime", samples, "PredictorReady")
        return cond if cond and cond["status"] == "False" else None

    cond = eventually(reason, timeout=30, what="PredictorReady False")
    assert cond["reason"] == "RuntimeNotRecognized"
    assert "nope" in cond["message"]
    ready = kubectl.condition("isvc", "no-runtime", samples, "Ready")
    assert ready is not None and ready["status"] == "False"
    assert ready["reason"] == "RuntimeNotRecognized"
    assert (
        kubectl.items("deployments", samples, "serving.modelplane.io/inferenceservice=no-runtime")
        == []
    )


def test_a_runtime_created_later_is_picked_up(kubectl: Kubectl, samples: str) -> None:
    isvc = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "later"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}},
    }
    kubectl("apply", "-n", samples, "-f", "-", input=yaml.safe_dump(isvc))
    eventually(
        lambda: (
            (kubectl.condition("isvc", "later", samples, "Ready") or {}).get("reason")
            == "NoSupportingRuntime"
        ),
        timeout=30,
        what="NoSupportingRuntime",
    )
    runtime = {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": "sklearn"},
        "spec": {
            "supportedModelFormats": [{"name": "sklearn", "autoSelect": True}],
            "containers": [{"name": "server", "image": "example/sklearn:1"}],
        },
    }
    stalled = kubectl.condition("isvc", "later", samples, "Stalled")  # kstatus: needs a change
    assert stalled is not None and (stalled["status"], stalled["reason"]) == (
        "True",
        "NoSupportingRuntime",
    )
    if lua_available():  # Argo CD's health check on the live object
        assert health(kubectl.get("isvc", "later", samples) or {})[0] == "Degraded"
    kubectl("apply", "-n", samples, "-f", "-", input=yaml.safe_dump(runtime))
    eventually(lambda: kubectl.ready("isvc", "later", samples), timeout=60, what="later Ready")
    if lua_available():
        assert health(kubectl.get("isvc", "later", samples) or {})[0] == "Healthy"
    assert kubectl.condition("isvc", "later", samples, "Stalled") is None
    assert kubectl.condition("isvc", "later", samples, "Reconciling") is None

    def events() -> list[tuple[str, str]] | None:
        about = [
            e
            for e in kubectl.items("events.events.k8s.io", samples)
            if (e.get("regarding") or {}).get("name") == "later"
            and e.get("reportingController") == "serving.modelplane.io/operator"
        ]
        seen = [(e["type"], e["reason"]) for e in sorted(about, key=lambda e: e["eventTime"])]
        return seen if ("Normal", "Ready") in seen else None

    seen = eventually(events, timeout=30, what="the Ready Event")
    assert seen == [("Warning", "NoSupportingRuntime"), ("Normal", "Ready")]  # once each


def test_graph_waits_for_a_missing_service(kubectl: Kubectl, samples: str) -> None:
    graph = {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "waiting"},
        "spec": {
            "nodes": {
                "root": {"routerType": "Sequence", "steps": [{"serviceName": "arrives-later"}]}
            }
        },
    }
    kubectl("apply", "-n", samples, "-f", "-", input=yaml.safe_dump(graph))
    eventually(
        lambda: (
            (kubectl.condition("ig", "waiting", samples, "Ready") or {}).get("reason")
            == "DependencyNotFound"
        ),
        timeout=30,
        what="DependencyNotFound",
    )
    assert kubectl.get("deployment", "waiting-router", samples) is None
    source = (ROOT / "manifests" / "samples" / "isvc-batcher.yaml").read_text()
    kubectl(
        "apply", "-n", samples, "-f", "-", input=source.replace("iris-batched", "arrives-later")
    )
    eventually(lambda: kubectl.ready("ig", "waiting", samples), timeout=90, what="graph Ready")
    assert kubectl.get("deployment", "waiting-router", samples) is not None


def test_a_graph_change_rolls_the_router(kubectl: Kubectl, samples: str) -> None:
    def digest() -> str:
        deployment = kubectl.get("deployment", "iris-ab-test-router", samples) or {}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        return str(annotations["serving.modelplane.io/config-hash"])

    before = digest()
    patch = [
        {"op": "replace", "path": "/spec/nodes/root/steps/0/weight", "value": 50},
        {"op": "replace", "path": "/spec/nodes/root/steps/1/weight", "value": 50},
    ]
    kubectl("patch", "ig", "iris-ab-test", "-n", samples, "--type=json", "-p", json.dumps(patch))

    def rolled() -> bool:
        config_map = kubectl.get("configmap", "iris-ab-test-graph", samples) or {}
        steps = json.loads(config_map["data"]["graph.json"])["nodes"]["root"]["steps"]
        return [s["weight"] for s in steps] == [50, 50] and digest() != before

    eventually(rolled, timeout=30, what="graph ConfigMap updated and router template re-hashed")


def test_a_child_the_api_server_refuses_is_reported(kubectl: Kubectl, samples: str) -> None:
    isvc = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "too-greedy"},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "onnx"},
                    "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
                }
            }
        },
    }
    kubectl("apply", "-n", samples, "-f", "-", input=yaml.safe_dump(isvc))

    def refused() -> Any:
        cond = kubectl.condition("isvc", "too-greedy", samples, "PredictorReady")
        return cond if cond and cond.get("reason") == "ApplyRejected" else None

    cond = eventually(refused, timeout=30, what="PredictorReady ApplyRejected")
    assert cond["status"] == "False"
    assert "limit" in cond["message"]
    ready = kubectl.condition("isvc", "too-greedy", samples, "Ready")
    assert ready is not None and ready["status"] == "False"


def test_a_missing_pvc_shows_the_schedulers_reason_within_30s(
    kubectl: Kubectl, samples: str
) -> None:
    isvc = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "no-pvc"},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://models-pvc/iris"}
            }
        },
    }
    kubectl("apply", "-n", samples, "-f", "-", input=yaml.safe_dump(isvc))

    def printed() -> str | None:  # what a user types, and what they see
        out = kubectl("get", "isvc", "no-pvc", "-n", samples)
        return out if "Unschedulable" in out else None

    out = eventually(printed, timeout=30, what="Unschedulable in kubectl get isvc")
    assert out.split("\n")[0].split() == ["NAME", "URL", "READY", "REASON", "AGE"]
    assert out.split("\n")[1].split()[2:4] == ["False", "Unschedulable"]
    ready = kubectl.condition("isvc", "no-pvc", samples, "Ready")
    assert ready is not None and 'persistentvolumeclaim "models-pvc" not found' in ready["message"]
    # waiting for a PVC (or a node) is still progressing: the claim may yet be created
    assert kubectl.condition("isvc", "no-pvc", samples, "Reconciling") is not None
    obj = kubectl.get("isvc", "no-pvc", samples) or {}
    info = obj["status"]["modelStatus"]["lastFailureInfo"]
    assert info["reason"] == "Unschedulable" and "models-pvc" in info["message"]
    if lua_available():
        assert health(obj)[0] == "Progressing"
