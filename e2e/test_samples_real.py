"""End-to-end on real pods: `helm install`, every sample applied with kubectl, each Ready on a
real kubelet and answering V2 through the Ingress (Traefik), through its Service, and over gRPC.

The node is tests.support.realnode (one per machine); the setup is e2e/real_tier.py. The GPU
samples are applied to this GPU-less node too and must say why they are not scheduled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from e2e import real_tier, sample_models, tier_storage
from e2e.real_tier import GPU_SAMPLES, Tier
from modelplane.operator import names
from tests.support import dns, node_plan
from tests.support.argocd import health, lua_available
from tests.support.node_cluster import RealCluster
from tests.support.wait import wait_for
from tools.images import built

pytestmark = [pytest.mark.cluster, pytest.mark.real, pytest.mark.timeout(900)]

READY_TIMEOUT = 420.0


def sample_names() -> list[str]:
    return sorted(d["metadata"]["name"] for d in real_tier.sample_documents())


def cpu_names() -> list[str]:
    return [n for n in sample_names() if n not in GPU_SAMPLES] + ["iris-http", "iris-s3"]


def graph_names() -> list[str]:
    kinds = {d["metadata"]["name"]: d["kind"] for d in real_tier.sample_documents()}
    return [n for n in cpu_names() if kinds.get(n) == "InferenceGraph"]


@pytest.fixture(scope="module")
def tier(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    root = tmp_path_factory.mktemp("real-tier")
    # in the cluster's own directory: a reused cluster keeps the same hostPath volume
    models_dir = real_cluster.paths.state / "tier-models"
    models = sample_models.build(models_dir)
    real_tier.write_broken_model(models.claim)
    tier_storage.open_permissions(models_dir)
    procs, s3_endpoint, http_base = tier_storage.start_storage(root, models)
    cluster = real_cluster
    tier = Tier(
        cluster, real_tier.SYSTEM_NAMESPACE, "samples", s3_endpoint, http_base, processes=procs
    )
    try:
        base = built(["model-server"])["model-server"]
        real_tier.build_samples_image(cluster, base, models, root / "samples-image")
        real_tier.install(cluster, tier.namespace, models.claim, root, s3_endpoint)
        docs = [real_tier.test_overlay(d) for d in real_tier.sample_documents()]
        docs += [real_tier.test_overlay(d) for d in real_tier.extra_documents(tier)]
        tier.applied_at = time.monotonic()
        cluster.kubectl(
            "apply",
            "-n",
            tier.namespace,
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
        )
        yield tier
    finally:
        tier.write_report()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def ready(tier: Tier) -> Tier:
    waiting = real_tier.wait_ready(tier, cpu_names(), READY_TIMEOUT)
    assert not waiting, f"not Ready after {READY_TIMEOUT:.0f}s: {waiting}"
    return tier


def request_for(name: str) -> dict[str, Any]:
    """A V2 request each sample understands, as a user would send it."""
    if name == "iris-labels":
        return {
            "inputs": [
                {
                    "name": "probabilities",
                    "shape": [1, 3],
                    "datatype": "FP32",
                    "data": [0.1, 0.7, 0.2],
                }
            ]
        }
    body: dict[str, Any] = {
        "inputs": [
            {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}
        ]
    }
    if name == "iris-by-priority":
        body["parameters"] = {"tier": "high"}
    return body


def check_answer(name: str, answer: dict[str, Any]) -> None:
    """The answer each sample must give (the same checks as the local-mode tier)."""
    outputs = answer.get("outputs")
    assert isinstance(outputs, list) and outputs, answer
    by_name = {o["name"]: o for o in outputs}
    if name == "iris-pipeline":
        assert by_name["species"]["data"][0] in sample_models.LABELS, answer
    elif name == "iris-labels":
        assert by_name["species"]["data"] == ["versicolor"], answer
    elif name == "iris-transformed":
        assert by_name["class"]["data"] == [int(np.argmax(by_name["probabilities"]["data"]))]
    elif name == "mnist-pytorch":
        assert by_name["logits"]["shape"] == [1, 3], answer
    elif name == "iris-ensemble":
        assert {"onnx.probabilities", "pytorch.probabilities"} <= set(by_name), by_name
    else:
        assert np.isclose(sum(by_name["probabilities"]["data"]), 1.0, atol=1e-5), answer


def service_ip(tier: Tier, name: str) -> str:
    """The entry Service's ClusterIP, looked up by its cluster DNS name on CoreDNS."""
    item = real_tier.listed(tier.cluster, tier.namespace)[name]
    if item["kind"] == "InferenceGraph":  # its status has no address: the router's Service
        host = names.cluster_host(names.router(name), tier.namespace)
    else:
        url = (item.get("status") or {}).get("address", {}).get("url", "")
        host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    assert host.endswith(".svc.cluster.local"), item.get("status")
    addresses = dns.resolve_a(node_plan.DNS_IP, host)
    assert addresses, f"CoreDNS does not resolve {host}"
    return addresses[0]


def test_every_cpu_sample_becomes_ready_on_real_pods(ready: Tier) -> None:
    slowest = max(ready.ready_after.values())
    print(f"\nevery CPU sample Ready {slowest:.1f}s after kubectl apply")
    for name, seconds in sorted(ready.ready_after.items()):
        print(f"  {name}: {seconds:.1f}s")


def test_gpu_samples_say_why_they_are_not_scheduled(ready: Tier) -> None:
    # The scheduler's message names the missing GPU (or, for MIG, the node label the sample
    # selects); on the way it may first name a claim still being bound.
    wanted = {"resnet-onnx-gpu": "nvidia.com/gpu", "resnet-onnx-mig": "node affinity/selector"}
    last: dict[str, dict[str, Any]] = {}

    def reasons() -> bool:
        found = real_tier.listed(ready.cluster, ready.namespace)
        last.update({n: real_tier.ready_condition(found.get(n, {})) for n in GPU_SAMPLES})
        return all(
            c.get("status") == "False"
            and c.get("reason") == "Unschedulable"
            and wanted[n] in c.get("message", "")
            for n, c in last.items()
        )

    wait_for(reasons, timeout=120, interval=1, message=lambda: f"GPU samples say why: {last}")


@pytest.mark.parametrize("name", cpu_names())
def test_sample_answers_through_the_ingress(ready: Tier, name: str) -> None:
    host = f"{name}-{ready.namespace}.{real_tier.DOMAIN}"
    path = f"/v2/models/{name}/infer"
    # Ready, but Traefik may not route it yet (404 "page not found" for a few seconds)
    lag = real_tier.wait_routed(ready.cluster.ingress, host, path, request_for(name))
    print(f"\n{name}: waited {lag:.1f}s for the Ingress to route it")
    answer = httpx.post(
        f"{ready.cluster.ingress}{path}",
        json=request_for(name),
        headers={"Host": host},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    check_answer(name, answer.json())
    ready.record(name, "ingress", answer.json())


def test_ready_means_the_ingress_routes_it(ready: Tier) -> None:
    """The chart's `ingressProbeUrl` (Traefik's address): Ready waits until Traefik routes the
    host, so a client that sends as soon as it sees Ready is answered by the model, never by
    Traefik's own 404. A fresh InferenceService, its status read every 0.2 s."""
    name = "iris-routed"
    (doc,) = [d for d in real_tier.sample_documents() if d["metadata"]["name"] == "iris-onnx"]
    doc = real_tier.test_overlay({**doc, "metadata": {"name": name}})
    cluster, namespace = ready.cluster, ready.namespace
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc))
    host = f"{name}-{namespace}.{real_tier.DOMAIN}"
    path = f"/v2/models/{name}/infer"
    reasons: dict[str, float] = {}  # IngressReady reasons seen -> seconds since apply
    started = time.monotonic()
    try:
        while True:
            item = json.loads(
                cluster.kubectl("get", "isvc", name, "-n", namespace, "-o", "json").stdout
            )
            conditions = {c["type"]: c for c in (item.get("status") or {}).get("conditions", [])}
            reason = conditions.get("IngressReady", {}).get("reason")
            if reason is not None:
                reasons.setdefault(reason, round(time.monotonic() - started, 1))
            if conditions.get("Ready", {}).get("status") == "True":
                break
            assert time.monotonic() - started < READY_TIMEOUT, f"{name} not Ready: {conditions}"
            time.sleep(0.2)
        answer = httpx.post(
            f"{cluster.ingress}{path}",
            json=request_for("iris-onnx"),
            headers={"Host": host},
            timeout=30,
        )
        print(f"\n{name}: IngressReady reasons seen (s after apply): {reasons}")
        assert not real_tier.traefik_own(answer.status_code, answer.text), answer.text
        assert answer.status_code == 200, answer.text
        check_answer(name, answer.json())
    finally:
        cluster.kubectl("delete", "isvc", name, "-n", namespace, "--wait=false", check=False)


@pytest.mark.parametrize("name", cpu_names())
def test_sample_answers_through_its_service(ready: Tier, name: str) -> None:
    address = service_ip(ready, name)
    answer = httpx.post(
        f"http://{address}/v2/models/{name}/infer", json=request_for(name), timeout=30
    )
    assert answer.status_code == 200, answer.text
    check_answer(name, answer.json())
    ready.record(name, "service", answer.json())


@pytest.mark.parametrize("name", [n for n in cpu_names() if n != "iris-transformed"])
def test_sample_answers_grpc_through_its_service(ready: Tier, name: str) -> None:
    """Every InferenceService's model server, and every graph's router (the graph answers as
    a V2 model named after it), over gRPC on its Service's port 8081, with tritonclient."""
    address = service_ip(ready, name)
    client = grpcclient.InferenceServerClient(f"{address}:8081")
    request = request_for(name)["inputs"][0]
    tensor = grpcclient.InferInput(request["name"], request["shape"], request["datatype"])
    tensor.set_data_from_numpy(
        np.asarray(request["data"], dtype=np.float32).reshape(request["shape"])
    )
    # no request parameters; tritonclient's `timeout` is the request's own timeout parameter
    # (microseconds), which the servers honour: the client's wait is `client_timeout`
    result = client.infer(name, [tensor], client_timeout=30)
    response = result.get_response()
    if name in graph_names():  # the graph's name, and which steps ran
        assert response.model_name == name
        steps = response.parameters["graph_steps"].string_param
        assert steps, response
        if name == "iris-by-priority":  # no tier parameter: the Switch's other step
            assert steps == "root/normal", steps
    outputs = result.get_response(as_json=True)["outputs"]
    assert outputs, result
    answer = {
        "outputs": [
            {
                "name": o["name"],
                "shape": [int(d) for d in o["shape"]],
                "data": result.as_numpy(o["name"]).ravel().tolist(),
            }
            for o in outputs
        ]
    }
    for output in answer["outputs"]:  # BYTES tensors (species) come as bytes
        output["data"] = [v.decode() if isinstance(v, bytes) else v for v in output["data"]]
    check_answer(name, answer)
    ready.record(name, "grpc", answer)


def test_a_model_that_cannot_load_says_why(ready: Tier) -> None:
    """The server writes its termination message and exits; the operator reads it."""
    last: dict[str, Any] = {}

    def says_why() -> bool:
        item = real_tier.listed(ready.cluster, ready.namespace).get(real_tier.BROKEN, {})
        last.update(real_tier.ready_condition(item))
        last["lastFailureInfo"] = (
            (item.get("status") or {}).get("modelStatus", {}).get("lastFailureInfo")
        )
        return last.get("reason") == "ModelLoadFailed"

    wait_for(says_why, timeout=180, interval=1, message=lambda: f"ModelLoadFailed: {last}")
    assert last["status"] == "False"
    assert real_tier.BROKEN in last["message"], last
    failure = last["lastFailureInfo"]
    assert failure["reason"] == "ModelLoadFailed" and failure.get("exitCode") == 1, failure
    printed = ready.cluster.kubectl("get", "isvc", real_tier.BROKEN, "-n", ready.namespace)
    assert "ModelLoadFailed" in printed.stdout  # the REASON column
    item = real_tier.listed(ready.cluster, ready.namespace)[real_tier.BROKEN]
    stalled = [c for c in item["status"]["conditions"] if c["type"] == "Stalled"]
    assert [(c["status"], c["reason"]) for c in stalled] == [("True", "ModelLoadFailed")]  # kstatus
    if lua_available():  # Argo CD's health check on the live object
        assert health(item)[0] == "Degraded", health(item)

    def warned() -> bool:
        listed = ready.cluster.kubectl(
            "get", "events.events.k8s.io", "-n", ready.namespace, "-o", "json"
        )
        return any(
            e.get("type") == "Warning"
            and e.get("reason") == "ModelLoadFailed"
            and (e.get("regarding") or {}).get("name") == real_tier.BROKEN
            for e in json.loads(listed.stdout)["items"]
        )

    wait_for(warned, timeout=30, interval=1, message=lambda: "a ModelLoadFailed Warning Event")


@pytest.mark.parametrize("name", sorted(real_tier.FAILING))
def test_each_failure_shows_its_reason_in_kubectl_get_isvc(ready: Tier, name: str) -> None:
    """An unknown image, a crash at start, an unreachable S3 endpoint: the reason and its
    message on the InferenceService (the REASON column), kstatus, Argo CD and an Event."""
    reason, in_message = real_tier.FAILING[name]
    last: dict[str, Any] = {}

    def shown() -> bool:
        printed = ready.cluster.kubectl("get", "isvc", name, "-n", ready.namespace).stdout
        last["printed"] = printed
        return reason in printed

    wait_for(shown, timeout=120, interval=1, message=lambda: f"{reason} for {name}: {last}")
    seconds = time.monotonic() - ready.applied_at
    print(f"{name}: {reason} shown {seconds:.0f}s after apply\n{last['printed']}")
    item = real_tier.listed(ready.cluster, ready.namespace)[name]
    cond = real_tier.ready_condition(item)
    assert in_message in cond["message"], cond
    info = item["status"]["modelStatus"]["lastFailureInfo"]
    assert info["reason"] == reason and in_message in info["message"], info
    if reason == "CrashLoopBackOff":
        assert info["exitCode"] == 3 and "config is missing" in info["message"], info
    stalled = [c for c in item["status"]["conditions"] if c["type"] == "Stalled"]
    assert [(c["status"], c["reason"]) for c in stalled] == [("True", reason)]
    if lua_available():
        assert health(item)[0] == "Degraded", health(item)


def test_storage_initializer_downloaded_from_s3_and_http(ready: Tier) -> None:
    for name in ("iris-s3", "iris-http"):
        pods = real_tier.labelled(
            ready.cluster, "pods", ready.namespace, f"serving.modelplane.io/inferenceservice={name}"
        )
        assert pods, name
        init = pods[0]["status"]["initContainerStatuses"][0]
        assert init["name"] == "storage-initializer"
        assert init["state"]["terminated"]["exitCode"] == 0, init


def test_graph_router_reaches_its_steps_by_cluster_dns(ready: Tier) -> None:
    config = real_tier.labelled(
        ready.cluster,
        "configmap",
        ready.namespace,
        "serving.modelplane.io/inferencegraph=iris-pipeline",
    )
    assert config, "the router's graph ConfigMap"
    text = json.dumps(config[0]["data"])
    assert f".{ready.namespace}.svc.cluster.local" in text, text


def test_each_graph_router_runs_the_http_edge_its_graph_asks_for(ready: Tier) -> None:
    """ig-ensemble.yaml sets httpEdge: threads (through the graph file the operator writes);
    the other graphs leave the router's default, the event loop."""
    for graph in graph_names():
        done = ready.cluster.kubectl(
            "logs", "-n", ready.namespace, f"deploy/{graph}-router", "--tail=-1", check=False
        )  # fmt: skip
        listening = [
            json.loads(line) for line in done.stdout.splitlines() if "HTTP listening" in line
        ]
        assert listening, (graph, done.stdout[-2000:], done.stderr)
        want = "threads" if graph == "iris-ensemble" else "loop"
        assert {entry["http_edge"] for entry in listening} == {want}, graph


def test_operator_pod_never_restarted(ready: Tier) -> None:
    pods = real_tier.labelled(
        ready.cluster, "pods", ready.system, "app.kubernetes.io/component=operator"
    )
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    statuses = pods[0]["status"]["containerStatuses"]
    assert [s["restartCount"] for s in statuses] == [0], statuses
