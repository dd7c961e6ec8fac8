"""Scale to zero on the test control plane: at 0 replicas the predictor's Service goes to the
activator (no selector, an EndpointSlice the operator owns) and the status is ScaledToZero;
with a replica again the Service selects the pods directly and the slice is gone.

kwok's pods serve nothing, so here the test stands in for the idle clock (it scales the
Deployment through the operator's client); the idle clock and the activator on real sockets are
tests/component/operator/test_activator.py, and on real pods `make bench-scale`.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from modelplane.operator.kube import Kube
from tests.cluster.operator.conftest import (
    TEST_CONFIG,
    Kubectl,
    create_namespace,
    delete_namespace,
    eventually,
    running_operator,
)

pytestmark = pytest.mark.cluster

ACTIVATOR_IP = "10.0.0.50"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def activator_objects(namespace: str) -> list[dict[str, Any]]:
    """Where the chart's activator Service would be: a Service and its one ready address."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "activator", "namespace": namespace},
            "spec": {"ports": [{"name": "http", "port": 80}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "activator-1",
                "namespace": namespace,
                "labels": {"kubernetes.io/service-name": "activator"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ACTIVATOR_IP], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8082, "protocol": "TCP"}],
        },
    ]


def isvc(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris-zero", "namespace": namespace},
        "spec": {
            "predictor": {
                "minReplicas": 0,
                "scaleToZeroAfterSeconds": 3600,  # the test scales, not the idle clock
                "model": {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://models/iris"},
            }
        },
    }


def reason(kubectl: Kubectl, namespace: str) -> str | None:
    ready = kubectl.condition("isvc", "iris-zero", namespace, "Ready") or {}
    return ready.get("reason") if ready.get("status") == "True" else "not ready"


def test_at_zero_the_service_goes_to_the_activator_and_back(
    k8s_cluster: Any, kubectl: Kubectl
) -> None:
    namespace = create_namespace(kubectl, "zero")
    port = free_port()
    config = TEST_CONFIG.model_copy(
        update={"activator_service": f"{namespace}/activator", "activator_port": port}
    )
    service = "iris-zero-predictor"
    slice_name = "iris-zero-predictor-activator"
    try:
        kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps(
                {"kind": "List", "apiVersion": "v1", "items": activator_objects(namespace)}
            ),
        )
        with running_operator(k8s_cluster, config):
            kubectl("apply", "-f", "-", input=json.dumps(isvc(namespace)))
            eventually(lambda: kubectl.ready("isvc", "iris-zero", namespace), 120, "Ready")
            live = kubectl.get("service", service, namespace) or {}
            assert live["spec"]["selector"]["serving.modelplane.io/component"] == "predictor"
            assert live["metadata"]["labels"]["serving.modelplane.io/scale-to-zero"] == "true"
            # the predictor revision's Deployment, which the idle clock and activator scale
            revision = live["metadata"]["annotations"]["serving.modelplane.io/scale-target"]
            assert revision.startswith(f"{service}-")
            deployment = kubectl.get("deployment", revision, namespace) or {}
            assert deployment["spec"]["replicas"] == 1  # created at 1: no replicas applied

            # as the idle clock does it, through the operator's client: first parked (the
            # Service goes to the activator while the pod still serves), then 0 replicas
            kube = Kube.from_environment()
            parked = {"metadata": {"annotations": {"serving.modelplane.io/parked": "true"}}}
            kube.patch("Deployment", namespace, revision, parked)
            eventually(
                lambda: (
                    not (kubectl.get("service", service, namespace) or {})["spec"].get("selector")
                ),
                60,
                "the parked Service without a selector",
            )
            assert (kubectl.get("deployment", revision, namespace) or {})["spec"]["replicas"] == 1
            assert kubectl.get("endpointslices.discovery.k8s.io", slice_name, namespace)
            unpark = {"metadata": {"annotations": {"serving.modelplane.io/parked": None}}}
            kube.patch("Deployment", namespace, revision, {**unpark, "spec": {"replicas": 0}})
            eventually(lambda: reason(kubectl, namespace) == "ScaledToZero", 60, "ScaledToZero")
            eventually(
                lambda: (
                    not (kubectl.get("service", service, namespace) or {})["spec"].get("selector")
                ),
                60,
                "the Service without a selector",
            )
            selector = f"kubernetes.io/service-name={service}"

            def slices() -> list[dict[str, Any]]:
                return kubectl.items("endpointslices.discovery.k8s.io", namespace, selector)

            # the controller's own slice goes with the selector: only ours is left
            eventually(
                lambda: [s["metadata"]["name"] for s in slices()] == [slice_name],
                60,
                "only the activator's slice",
            )
            found = slices()
            assert len(found) == 1, [
                (s["metadata"]["name"], s["metadata"].get("labels")) for s in found
            ]
            (ours,) = found
            assert ours["endpoints"][0]["addresses"] == [ACTIVATOR_IP]
            # gRPC: the component's own relay port on the activator, claimed on its Service
            notes = (kubectl.get("service", service, namespace) or {})["metadata"]["annotations"]
            relay = int(notes["serving.modelplane.io/activator-grpc-port"])
            assert 20000 <= relay < 30000
            assert ours["ports"] == [
                {"name": "http", "port": port, "protocol": "TCP"},
                {"name": "grpc", "port": relay, "protocol": "TCP"},
            ]
            stalled = kubectl.condition("isvc", "iris-zero", namespace, "Stalled")
            assert stalled is None or stalled["status"] != "True"

            kubectl("scale", "deployment", revision, "-n", namespace, "--replicas=1")
            eventually(
                lambda: bool(
                    (kubectl.get("service", service, namespace) or {})["spec"].get("selector")
                ),
                60,
                "the selector back",
            )
            eventually(
                lambda: (
                    kubectl.get("endpointslices.discovery.k8s.io", slice_name, namespace) is None
                ),
                60,
                "the activator's slice deleted",
            )
            eventually(lambda: reason(kubectl, namespace) != "ScaledToZero", 60, "warm again")
    finally:
        delete_namespace(kubectl, namespace)
