"""gRPC at zero on real pods: a `minReplicas: 0` InferenceService idled to zero is woken by
gRPC requests to its Service's grpc port (the activator's per-component relay port), and by a
graph whose step calls it over gRPC; every request is answered.

A graph whose router scales to zero too is woken by REST through the Ingress (its router, then
its step at zero) and by gRPC to its router's Service.

The HTTP side of scale to zero (one request and 20 concurrent ones through the Ingress, with
their times) is `make bench-scale` (benchmarks/scale.py). Run with -s for the wake times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from e2e import real_tier, sample_models, tier_storage
from modelplane.operator import names
from tests.support import dns, node_plan
from tests.support.node_cluster import RealCluster
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.real, pytest.mark.timeout(900)]

NAMESPACE = "zero"
NAME = "iris-zero"
GRAPH = "iris-zero-graph"
ROUTED = "iris-zero-router"  # a graph whose router scales to zero too
IDLE_SECONDS = 10
WAKE_TIMEOUT = 180.0  # the client's; the activator holds for its wakeTimeoutSeconds (120 s)
FEATURES = [5.1, 3.5, 1.4, 0.2]
CONCURRENT = 20
MODEL_LABEL = f"{names.ISVC_LABEL}={NAME}"
GRAPH_BODY = {
    "inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": FEATURES}]
}


def isvc() -> dict[str, Any]:
    return real_tier.zero_isvc(NAME, NAMESPACE, IDLE_SECONDS)


def graph(name: str = GRAPH, protocol: str = "grpc", **spec: Any) -> dict[str, Any]:
    """One step to the model that scales to zero."""
    step = {"name": "classify", "serviceName": NAME, "protocol": protocol}
    return real_tier.test_overlay(
        {
            "apiVersion": "serving.modelplane.io/v1alpha1",
            "kind": "InferenceGraph",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {**spec, "nodes": {"root": {"routerType": "Sequence", "steps": [step]}}},
        }
    )


def get(cluster: RealCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-n", NAMESPACE, "-o", "json").stdout)


def ready(cluster: RealCluster, kind: str, name: str) -> dict[str, Any]:
    return real_tier.ready_condition(get(cluster, kind, name))


def at_zero(cluster: RealCluster, kind: str = "isvc", name: str = NAME) -> bool:
    """0 replicas, no pod (not even a terminating one), ScaledToZero, the Service without a
    selector and its gRPC sent to the activator's relay port."""
    if kind == "isvc":
        label = f"{names.ISVC_LABEL}={name}"
        service_name = names.component(name, names.PREDICTOR)
    else:
        label = f"{names.GRAPH_LABEL}={name}"
        service_name = names.router(name)
    # no pod at all: a terminating pod still serves the connections it has (its preStop)
    pods = get(cluster, "pods", "-l", label)["items"]
    service = get(cluster, "service", service_name)
    slice_ = json.loads(
        cluster.kubectl(
            "get", "endpointslice", names.activator_slice(service_name),
            "-n", NAMESPACE, "-o", "json", check=False,
        ).stdout or "{}"
    )  # fmt: skip
    relay = service["metadata"].get("annotations", {}).get(names.RELAY_PORT_ANNOTATION)
    return (
        replicas(cluster, label) == 0
        and not pods
        and ready(cluster, kind, name).get("reason") == "ScaledToZero"
        and not service["spec"].get("selector")
        and relay is not None
        and {"name": "grpc", "port": int(relay), "protocol": "TCP"} in (slice_.get("ports") or [])
    )


def wait_at_zero(cluster: RealCluster, kind: str = "isvc", name: str = NAME) -> float:
    started = time.monotonic()
    wait_for(lambda: at_zero(cluster, kind, name), IDLE_SECONDS + 150, 1.0, f"{name} at zero")
    return time.monotonic() - started


def replicas(cluster: RealCluster, label: str) -> int:
    """spec.replicas of the one Deployment with `label` (-1 when unset)."""
    (deployment,) = get(cluster, "deployments", "-l", label)["items"]
    return int(deployment["spec"].get("replicas", -1))


def service_ip(cluster: RealCluster, service: str = f"{NAME}-predictor") -> str:
    host = names.cluster_host(service, NAMESPACE)
    addresses = dns.resolve_a(node_plan.DNS_IP, host)
    assert addresses, f"CoreDNS does not resolve {host}"
    return addresses[0]


def grpc_infer(address: str, model: str = NAME) -> tuple[float, list[float]]:
    """One V2 gRPC infer on its own connection (tritonclient): seconds and probabilities."""
    client = grpcclient.InferenceServerClient(f"{address}:8081")
    try:
        return infer_on(client, model)
    finally:
        client.close()


def infer_on(
    client: grpcclient.InferenceServerClient, model: str = NAME
) -> tuple[float, list[float]]:
    """One V2 gRPC infer on a client's channel: seconds and probabilities."""
    tensor = grpcclient.InferInput("features", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.asarray([FEATURES], dtype=np.float32))
    sent = time.monotonic()
    result = client.infer(model, [tensor], client_timeout=WAKE_TIMEOUT)
    took = time.monotonic() - sent
    return took, result.as_numpy("probabilities").ravel().tolist()


def handed_back(cluster: RealCluster) -> int:
    """How many relayed gRPC connections the activator (in the operator's pod) handed back."""
    done = cluster.kubectl(
        "logs", "-n", real_tier.SYSTEM_NAMESPACE, "deploy/modelplane-operator", "--tail=-1",
        check=False,
    )  # fmt: skip
    return done.stdout.count("connection handed back to the pods (GOAWAY)")


@pytest.fixture(scope="module")
def installed(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> RealCluster:
    work = tmp_path_factory.mktemp("zero")
    root = real_cluster.paths.state / "zero-models"
    models = sample_models.build(root)
    tier_storage.open_permissions(root)
    real_tier.install(real_cluster, NAMESPACE, models.claim, work, "http://127.0.0.1:1")
    return real_cluster


@pytest.fixture(scope="module")
def zero(installed: RealCluster) -> Iterator[RealCluster]:
    """The scale-to-zero InferenceService, Ready."""
    installed.kubectl("apply", "-f", "-", input=json.dumps(isvc()))
    try:
        wait_for(
            lambda: ready(installed, "isvc", NAME).get("status") == "True",
            300,
            1.0,
            f"{NAME} Ready",
        )
        yield installed
    finally:
        installed.kubectl("delete", "isvc,ig", "--all", "-n", NAMESPACE, "--wait=false")


def test_grpc_requests_at_zero_are_held_and_all_answered(zero: RealCluster) -> None:
    print(f"\n{NAME} at zero after {wait_at_zero(zero):.1f}s")
    address = service_ip(zero)
    before = handed_back(zero)
    keeper = grpcclient.InferenceServerClient(f"{address}:8081")  # one channel kept throughout
    try:
        with ThreadPoolExecutor(CONCURRENT + 1) as pool:
            kept = pool.submit(infer_on, keeper)
            outcomes = [*pool.map(grpc_infer, [address] * CONCURRENT), kept.result()]
        times = sorted(took for took, _ in outcomes)
        print(f"{len(outcomes)} gRPC requests at zero answered in {times[0]:.2f}-{times[-1]:.2f}s")
        for _, probabilities in outcomes:
            assert len(probabilities) == 3 and np.isclose(sum(probabilities), 1.0, atol=1e-5)
        assert replicas(zero, MODEL_LABEL) == 1  # one wake for all of them
        # warm: the Service has its selector back, and new connections go to the pod directly
        wait_for(
            lambda: bool(get(zero, "service", f"{NAME}-predictor")["spec"].get("selector")),
            60,
            1.0,
            "the selector back",
        )
        # the channel opened at zero is handed back to the pods (one GOAWAY), and goes on
        wait_for(lambda: handed_back(zero) > before, 30, 0.5, "the kept channel handed back")
        for _ in range(3):
            _, probabilities = infer_on(keeper)
            assert np.isclose(sum(probabilities), 1.0, atol=1e-5)
        print(f"handed back to the pods: {handed_back(zero) - before} relayed connection(s)")
    finally:
        keeper.close()
    took, _ = grpc_infer(address)
    print(f"a warm gRPC request: {took * 1000:.1f} ms")


def applied_graph(cluster: RealCluster, doc: dict[str, Any]) -> str:
    """Apply a graph, wait until it is Ready and routed by the Ingress; its name."""
    name = str(doc["metadata"]["name"])
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))
    wait_for(lambda: ready(cluster, "ig", name).get("status") == "True", 300, 1.0, f"{name} Ready")
    host, path = names.host(name, NAMESPACE, real_tier.DOMAIN), f"/v2/models/{name}/infer"
    real_tier.wait_routed(cluster.ingress, host, path, GRAPH_BODY, timeout=WAKE_TIMEOUT)
    return name


def ask_graph(cluster: RealCluster, name: str) -> float:
    """One REST request to the graph through the Ingress, answered correctly; its seconds."""
    sent = time.monotonic()
    answer = httpx.post(
        f"{cluster.ingress}/v2/models/{name}/infer",
        json=GRAPH_BODY,
        headers={"Host": names.host(name, NAMESPACE, real_tier.DOMAIN)},
        timeout=WAKE_TIMEOUT,
    )
    took = time.monotonic() - sent
    assert answer.status_code == 200, answer.text
    outputs = {o["name"]: o for o in answer.json()["outputs"]}
    assert np.isclose(sum(outputs["probabilities"]["data"]), 1.0, atol=1e-5), answer.json()
    return took


def test_a_graph_step_over_grpc_wakes_its_model_at_zero(zero: RealCluster) -> None:
    name = applied_graph(zero, graph())
    print(f"\n{NAME} at zero again after {wait_at_zero(zero):.1f}s")
    took = ask_graph(zero, name)
    print(f"the graph's gRPC step woke {NAME}: answered in {took:.2f}s")
    assert replicas(zero, MODEL_LABEL) == 1  # woken by the step


def test_a_graph_router_at_zero_wakes_on_rest_and_grpc_and_wakes_its_step(
    zero: RealCluster,
) -> None:
    name = applied_graph(
        zero, graph(ROUTED, "rest", minReplicas=0, scaleToZeroAfterSeconds=IDLE_SECONDS)
    )
    router_label = f"{names.GRAPH_LABEL}={name}"
    # both at zero: the router and the model it calls
    print(f"\n{name} at zero after {wait_at_zero(zero, 'ig', name):.1f}s")
    wait_at_zero(zero)
    took = ask_graph(zero, name)
    assert (replicas(zero, router_label), replicas(zero, MODEL_LABEL)) == (1, 1)
    print(f"REST through the Ingress woke the router, then its step: answered in {took:.2f}s")
    # gRPC to the router's Service at zero (the model may be warm or at zero by then)
    print(f"{name} at zero again after {wait_at_zero(zero, 'ig', name):.1f}s")
    took, probabilities = grpc_infer(service_ip(zero, names.router(name)), name)
    assert np.isclose(sum(probabilities), 1.0, atol=1e-5)
    assert replicas(zero, router_label) == 1
    print(f"gRPC to the router's Service at zero: answered in {took:.2f}s")
