"""Scale to zero in the rendered children, the API's validation and the status (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelplane.api import InferenceGraph, InferenceService
from modelplane.operator import names
from modelplane.operator.config import GatewayRef, OperatorConfig
from modelplane.operator.render.activation import Activation
from modelplane.operator.render.graph import render_inference_graph
from modelplane.operator.render.isvc import render_inference_service
from modelplane.operator.render.meta import Obj
from modelplane.operator.status import graph_status, isvc_status
from tests.unit.operator.samples import runtimes

CONFIG = OperatorConfig(
    activator_service="modelplane/modelplane-activator",
    activator_port=8082,
    ingress_domain="models.test",
)
ONNX = {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://models/iris"}


def isvc(predictor: dict[str, Any], **spec: Any) -> InferenceService:
    return InferenceService.model_validate(
        {
            "apiVersion": "serving.modelplane.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "iris", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": {"predictor": predictor, **spec},
        }
    )


def render(
    resource: InferenceService,
    activation: Activation | None = None,
    config: OperatorConfig = CONFIG,
) -> list[Obj]:
    runtime = next(r for r in runtimes() if r.metadata.name == "modelplane-onnx")
    return render_inference_service(resource, runtime, config, activation=activation)


def kinds(objects: list[Obj]) -> dict[str, Obj]:
    """One object per kind; the Service is the component's (`iris-predictor`), the one the
    Ingress and cluster DNS name, not the revision's."""
    found = {o["kind"]: o for o in objects if o["kind"] != "Service"}
    found["Service"] = next(o for o in objects if o["metadata"]["name"] == "iris-predictor")
    return found


def test_min_zero_leaves_replicas_to_the_idle_clock_and_marks_the_service() -> None:
    objects_list = render(isvc({"minReplicas": 0, "scaleToZeroAfterSeconds": 30, "model": ONNX}))
    objects = kinds(objects_list)
    assert "replicas" not in objects["Deployment"]["spec"]  # created at 1, then idle clock
    assert "HorizontalPodAutoscaler" not in objects  # min 0, max 1: nothing to autoscale
    assert "EndpointSlice" not in objects  # warm: no extra hop
    service = objects["Service"]
    assert service["spec"]["selector"] == names.component_labels("iris", names.PREDICTOR)
    revision_service = next(
        o
        for o in objects_list
        if o["kind"] == "Service" and o["metadata"]["name"] != "iris-predictor"
    )
    assert names.SCALE_TO_ZERO_LABEL not in revision_service["metadata"]["labels"]
    assert service["metadata"]["labels"][names.SCALE_TO_ZERO_LABEL] == "true"
    notes = service["metadata"]["annotations"]
    # the revision's Deployment is what the idle clock and the activator scale
    assert notes[names.SCALE_TARGET_ANNOTATION] == objects["Deployment"]["metadata"]["name"]
    assert notes[names.SCALE_TARGET_ANNOTATION].startswith("iris-predictor-")
    assert notes[names.IDLE_AFTER_ANNOTATION] == "30"
    assert notes[names.HOSTS_ANNOTATION].split(",") == [
        "iris-predictor",
        "iris-predictor.ns",
        "iris-predictor.ns.svc",
        "iris-predictor.ns.svc.cluster.local",
        "iris-ns.models.test",  # the Ingress host: the predictor is the entry
    ]


def test_idle_seconds_default_to_300() -> None:
    service = kinds(render(isvc({"minReplicas": 0, "model": ONNX})))["Service"]
    assert service["metadata"]["annotations"][names.IDLE_AFTER_ANNOTATION] == "300"


def test_at_zero_the_service_goes_to_the_activator() -> None:
    at_zero = Activation(at_zero=True, addresses=("10.0.0.9", "10.0.0.7"))
    objects = kinds(render(isvc({"minReplicas": 0, "model": ONNX}), at_zero))
    assert "selector" not in objects["Service"]["spec"]
    endpoints = objects["EndpointSlice"]
    assert endpoints["metadata"]["name"] == "iris-predictor-activator"
    assert endpoints["metadata"]["labels"]["kubernetes.io/service-name"] == "iris-predictor"
    assert endpoints["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == (
        "operator.serving.modelplane.io"
    )
    assert endpoints["metadata"]["ownerReferences"][0]["uid"] == "u1"
    assert [e["addresses"] for e in endpoints["endpoints"]] == [["10.0.0.7"], ["10.0.0.9"]]
    assert endpoints["ports"] == [{"name": "http", "port": 8082, "protocol": "TCP"}]


def test_at_zero_grpc_goes_to_the_components_own_relay_port() -> None:
    at_zero = Activation(at_zero=True, addresses=("10.0.0.7",), relay_port=20417)
    objects = kinds(render(isvc({"minReplicas": 0, "model": ONNX}), at_zero))
    assert objects["EndpointSlice"]["ports"] == [
        {"name": "http", "port": 8082, "protocol": "TCP"},
        {"name": "grpc", "port": 20417, "protocol": "TCP"},  # the Service's grpc port's name
    ]
    grpc = next(p for p in objects["Service"]["spec"]["ports"] if p["name"] == "grpc")
    assert grpc["targetPort"] == names.GRPC_PORT  # what the relay connects to once woken
    notes = objects["Service"]["metadata"]["annotations"]
    assert notes[names.RELAY_PORT_ANNOTATION] == "20417"  # the activator listens there
    warm = kinds(render(isvc({"minReplicas": 0, "model": ONNX}), Activation(relay_port=20417)))
    assert warm["Service"]["metadata"]["annotations"][names.RELAY_PORT_ANNOTATION] == "20417"
    assert "EndpointSlice" not in warm


def test_min_zero_with_room_gets_an_hpa_from_one() -> None:
    objects = kinds(render(isvc({"minReplicas": 0, "maxReplicas": 4, "model": ONNX})))
    assert objects["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 1
    assert objects["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 4
    assert "replicas" not in objects["Deployment"]["spec"]


def test_min_zero_without_an_activator_is_refused() -> None:
    with pytest.raises(ValueError, match="needs the activator"):
        render(isvc({"minReplicas": 0, "model": ONNX}), config=OperatorConfig())


def test_min_zero_with_a_canary_is_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="canaryTrafficPercent"):
        render(isvc({"minReplicas": 0, "canaryTrafficPercent": 20, "model": ONNX}))


@pytest.mark.parametrize(
    ("predictor", "spec", "message"),
    [
        ({"minReplicas": 1, "scaleToZeroAfterSeconds": 30, "model": ONNX}, {}, "needs minReplicas"),
        ({"scaleToZeroAfterSeconds": 30, "model": ONNX}, {}, "needs minReplicas"),
        ({"minReplicas": 0, "scaleToZeroAfterSeconds": 0, "model": ONNX}, {}, "greater than"),
        (
            {"minReplicas": 0, "containers": [{"name": "c", "image": "x"}]},
            {},
            "needs a model predictor",
        ),
        (
            {"model": ONNX},
            {"transformer": {"minReplicas": 0, "containers": [{"name": "t", "image": "x"}]}},
            "only a predictor scales to zero",
        ),
    ],
)
def test_scale_to_zero_fields_that_cannot_work_are_refused(
    predictor: dict[str, Any], spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        isvc(predictor, **spec)


def graph(**spec: Any) -> InferenceGraph:
    return InferenceGraph.model_validate(
        {
            "apiVersion": "serving.modelplane.io/v1alpha1",
            "kind": "InferenceGraph",
            "metadata": {"name": "g", "namespace": "ns", "uid": "g1", "generation": 1},
            "spec": {
                **spec,
                "nodes": {
                    "root": {"routerType": "Sequence", "steps": [{"serviceUrl": "http://a"}]}
                },
            },
        }
    )


RESOLVED = {"name": "g", "nodes": {"root": {"routerType": "Sequence", "steps": []}}}


def graph_kinds(resource: InferenceGraph, activation: Activation | None = None) -> dict[str, Obj]:
    return {o["kind"]: o for o in render_inference_graph(resource, RESOLVED, CONFIG, activation)}


def test_a_graph_router_scales_to_zero_like_a_predictor() -> None:
    warm = graph_kinds(
        graph(minReplicas=0, scaleToZeroAfterSeconds=45), Activation(relay_port=21000)
    )
    assert "replicas" not in warm["Deployment"]["spec"]  # the idle clock and activator own it
    assert "EndpointSlice" not in warm and "HorizontalPodAutoscaler" not in warm
    service = warm["Service"]
    assert service["metadata"]["name"] == "g-router"
    assert service["spec"]["selector"]  # warm: straight to the router's pods
    assert service["metadata"]["labels"][names.SCALE_TO_ZERO_LABEL] == "true"
    notes = service["metadata"]["annotations"]
    assert notes[names.SCALE_TARGET_ANNOTATION] == "g-router"  # its Deployment
    assert notes[names.IDLE_AFTER_ANNOTATION] == "45"
    assert notes[names.RELAY_PORT_ANNOTATION] == "21000"
    assert notes[names.HOSTS_ANNOTATION].split(",") == [
        "g-router",
        "g-router.ns",
        "g-router.ns.svc",
        "g-router.ns.svc.cluster.local",
        "g-ns.models.test",  # the graph's Ingress host
    ]
    at_zero = Activation(at_zero=True, addresses=("10.0.0.7",), relay_port=21000)
    parked = graph_kinds(graph(minReplicas=0), at_zero)
    assert "selector" not in parked["Service"]["spec"]
    assert parked["EndpointSlice"]["metadata"]["name"] == "g-router-activator"
    assert parked["EndpointSlice"]["ports"] == [
        {"name": "http", "port": 8082, "protocol": "TCP"},
        {"name": "grpc", "port": 21000, "protocol": "TCP"},
    ]
    assert parked["Service"]["metadata"]["annotations"][names.IDLE_AFTER_ANNOTATION] == "300"


def test_a_graph_router_at_zero_is_ready_scaled_to_zero() -> None:
    resource = graph(minReplicas=0)
    router = {**deployment(0, 0), "metadata": {"name": "g-router"}}
    children = {("Deployment", "g-router"): router, ("Ingress", "g"): {"kind": "Ingress"}}
    found = {c["type"]: c for c in graph_status(resource, children, CONFIG, "t")["conditions"]}
    assert found["RouterReady"]["reason"] == "ScaledToZero"
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("True", "ScaledToZero")
    fixed = graph()  # a router without minReplicas 0 is not scaled to zero at 0 replicas
    found = {c["type"]: c for c in graph_status(fixed, children, CONFIG, "t")["conditions"]}
    assert found["RouterReady"].get("reason") != "ScaledToZero"


def test_graph_scale_to_zero_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValidationError, match="scaleToZeroAfterSeconds needs minReplicas: 0"):
        graph(scaleToZeroAfterSeconds=30)
    with pytest.raises(ValueError, match="needs the activator"):
        render_inference_graph(graph(minReplicas=0), RESOLVED, OperatorConfig())
    gateway = CONFIG.model_copy(update={"gateway": GatewayRef(namespace="gw", name="edge")})
    with pytest.raises(ValueError, match="needs the Ingress mode"):
        render_inference_graph(graph(minReplicas=0), RESOLVED, gateway)


def deployment(replicas: int, ready: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "iris-predictor"},
        "spec": {"replicas": replicas},
        "status": {
            "replicas": ready,
            "readyReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
            ],
        },
    }


def conditions(resource: InferenceService, replicas: int, ready: int) -> dict[str, Obj]:
    ingress = {"kind": "Ingress", "metadata": {"name": "iris"}}
    children = {
        ("Deployment", "iris-predictor"): deployment(replicas, ready),
        ("Ingress", "iris"): ingress,
    }
    status = isvc_status(resource, children, CONFIG, "2026-12-06T10:00:00Z")
    return {c["type"]: c for c in status["conditions"]}


def test_at_zero_the_status_is_ready_scaled_to_zero_not_a_failure() -> None:
    found = conditions(isvc({"minReplicas": 0, "model": ONNX}), 0, 0)
    assert found["PredictorReady"]["status"] == "True"
    assert found["PredictorReady"]["reason"] == "ScaledToZero"
    assert found["Ready"]["status"] == "True"
    assert found["Ready"]["reason"] == "ScaledToZero"
    assert "Stalled" not in found and "Reconciling" not in found
    warm = conditions(isvc({"minReplicas": 0, "model": ONNX}), 1, 1)
    assert warm["Ready"]["status"] == "True" and "reason" not in warm["Ready"]


def test_zero_replicas_of_a_component_that_does_not_scale_to_zero_is_not_ready_scaled() -> None:
    found = conditions(isvc({"model": ONNX}), 0, 0)
    assert found["PredictorReady"].get("reason") != "ScaledToZero"


def test_woken_the_activator_stays_beside_the_selector_until_a_pod_is_published() -> None:
    bridging = Activation(bridging=True, addresses=("10.0.0.7",))
    objects = kinds(render(isvc({"minReplicas": 0, "model": ONNX}), bridging))
    assert objects["Service"]["spec"]["selector"] == names.component_labels("iris", "predictor")
    assert [e["addresses"] for e in objects["EndpointSlice"]["endpoints"]] == [["10.0.0.7"]]
