"""Multi-model pools on real pods (issue 16): many InferenceServices on a few shared servers.

The chart is installed as a user would; the models are ONNX files made here and served over
HTTP on the tier's storage address, pulled by the pool's servers themselves. Two pools:

(a) 30 small InferenceServices on a 2-replica pool (`runtime: small-pool`): every one Ready,
    each answering through its own URL (the Ingress, with its Host header). Model i adds i + 1
    to its input, so an answer from the wrong model is caught. Printed: the pod count and the
    pool's total memory against 30 separate pods, the one-pod figure measured here from one
    ordinary InferenceService serving the same kind of model.
(b) An overcommitted pool (`tight-pool`, one replica with capacity for 5 of 20 models of about
    40 MB each): every model answers; the p50 of a cold request (the model was evicted, the
    server loads it on the request) against a warm one is printed; the server is never
    OOM-killed nor restarted, and the status of an evicted model says `Unloaded`.

Memory figures are the servers' own resident set size (`process_resident_memory_bytes` on
their /metrics, read from the pod's address on the node), so the pool and the single pod are
measured the same way. Run with -s to see the figures.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from e2e import real_tier, tier_storage
from modelplane.operator import names
from tests.support import models, node_plan
from tests.support.node_cluster import RealCluster
from tests.support.ports import free_port
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.real, pytest.mark.timeout(1200)]

NAMESPACE = "pools"
SMALL = "small-pool"
TIGHT = "tight-pool"
SMALL_COUNT = 30
TIGHT_COUNT = 20
TIGHT_SLOTS = 5
BIG_FLOATS = 10_000_000  # 40 MB of weights: the overcommitted pool's models
BIG_BYTES = BIG_FLOATS * 4
SINGLE = "single"  # an ordinary InferenceService: the one-pod memory figure
READY_TIMEOUT = 420.0
BODY = {"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [0.0]}]}


def small(i: int) -> str:
    return f"m{i:02d}"


def big(i: int) -> str:
    return f"o{i:02d}"


def answer_of(name: str) -> float:
    """What each model adds to INPUT0 (= 0): distinct per model."""
    if name.startswith("o"):
        return 100.0 + int(name[1:])
    return 1.0 + int(name[1:])


@dataclass
class Pools:
    """The installed chart, the storage server and the pools' InferenceServices."""

    cluster: RealCluster
    base: str  # the storage server's URL
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.cluster.kubectl(*args, "-o", "json").stdout)

    def isvcs(self) -> dict[str, dict[str, Any]]:
        items = self.kubectl_json("get", "isvc", "-n", NAMESPACE)["items"]
        return {i["metadata"]["name"]: i for i in items}

    def pods(self, runtime: str) -> list[dict[str, Any]]:
        selector = f"{names.POOL_LABEL}={runtime}"
        items: list[dict[str, Any]] = self.kubectl_json(
            "get", "pods", "-n", NAMESPACE, "-l", selector
        )["items"]
        return items

    def ask(self, name: str) -> tuple[int, float | str, float]:
        """One request through the Ingress: (status, the answer's value or the error body,
        seconds)."""
        host = names.host(name, NAMESPACE, real_tier.DOMAIN)
        start = time.monotonic()
        reply = self.client.post(
            f"{self.cluster.ingress}/v2/models/{name}/infer", json=BODY, headers={"Host": host}
        )
        took = time.monotonic() - start
        if reply.status_code != 200:
            return reply.status_code, reply.text[:200], took
        return 200, float(reply.json()["outputs"][0]["data"][0]), took

    def routed(self, names_: list[str]) -> None:
        """Wait until every model answers its own value through the Ingress once: Traefik
        applies a Service's new endpoints a moment after the pod is labelled (its provider's
        throttle, about 2 s; docs/e2e.md, canary), and answers 404 until then."""
        for name in names_:
            wait_for(
                lambda n=name: self.ask(n)[1] == answer_of(n),
                60,
                1.0,
                lambda n=name: (
                    f"{n} answers through the Ingress: {self.ask(n)[:2]}; " + self.operator_log()
                ),
            )

    def operator_log(self) -> str:
        """The operator's last log lines (for a failure's message)."""
        done = self.cluster.kubectl(
            "logs", "-n", real_tier.SYSTEM_NAMESPACE, "deploy/modelplane-operator",
            "--tail=30", check=False,
        )  # fmt: skip
        return done.stdout[-4000:]

    def index(self, pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """A pool replica's repository index, read from its address on the node."""
        reply = self.client.post(f"http://{pod['status']['podIP']}:8080/v2/repository/index")
        reply.raise_for_status()
        return {item["name"]: item for item in reply.json()}

    def resident(self, pod: dict[str, Any]) -> int:
        """The server's resident set size in bytes, from its /metrics."""
        reply = self.client.get(f"http://{pod['status']['podIP']}:8080/metrics")
        reply.raise_for_status()
        for line in reply.text.splitlines():
            if line.startswith("process_resident_memory_bytes "):
                return int(float(line.split()[1]))
        raise AssertionError("no process_resident_memory_bytes on the server's /metrics")


def runtime(name: str, replicas: int, memory: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "multiModel": True,
            "replicas": replicas,
            "capacity": {"memory": memory},
            "supportedModelFormats": [{"name": "onnx"}],
            "containers": [
                {
                    "name": "model-server",
                    "image": "modelplane/model-server:0.1.0",
                    "command": ["modelplane"],
                    "args": ["serve", "--host=0.0.0.0", "--http-port=8080", "--grpc-port=8081"],
                    "resources": {"requests": {"cpu": real_tier.TEST_CPU_REQUEST}},
                }
            ],
        },
    }


def isvc(name: str, uri: str, runtime_name: str | None) -> dict[str, Any]:
    model: dict[str, Any] = {"modelFormat": {"name": "onnx"}, "storageUri": uri}
    if runtime_name is not None:
        model["runtime"] = runtime_name
    else:  # an ordinary InferenceService: its own pod, small test requests
        model["resources"] = {"requests": {"cpu": real_tier.TEST_CPU_REQUEST, "memory": "64Mi"}}
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"predictor": {"model": model}},
    }


def apply(cluster: RealCluster, items: list[dict[str, Any]]) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    cluster.kubectl("apply", "-f", "-", input=body)


def forget(cluster: RealCluster) -> None:
    cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=180s")


@pytest.fixture(scope="module")
def pools(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pools]:
    work = tmp_path_factory.mktemp("pools")
    root = real_cluster.paths.state / "pool-models"
    for i in range(SMALL_COUNT):
        path = root / small(i) / "model.onnx"
        if not path.exists():
            models.onnx_add_constant(path, answer_of(small(i)))
    for i in range(TIGHT_COUNT):
        path = root / big(i) / "model.onnx"
        if not path.exists():
            models.onnx_add_constant_weighted(path, answer_of(big(i)), BIG_FLOATS)
    tier_storage.open_permissions(root)
    port = free_port()
    log = (work / "storage.log").open("ab")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "http.server", "--bind", node_plan.STORAGE_IP,
            "--directory", str(root), str(port),
        ],
        stdout=log,
        stderr=log,
    )  # fmt: skip
    forget(real_cluster)
    try:
        real_tier.install_chart(real_cluster, work, "http://127.0.0.1:1")
        real_cluster.kubectl("create", "namespace", NAMESPACE)
        yield Pools(real_cluster, f"http://{node_plan.STORAGE_IP}:{port}")
    finally:
        forget(real_cluster)
        server.terminate()
        server.wait(timeout=10)


def wait_ready(pools: Pools, wanted: list[str]) -> float:
    """Seconds until every name is Ready; fails naming those that are not, with why."""
    start = time.monotonic()
    last: dict[str, dict[str, Any]] = {}

    def all_ready() -> bool:
        last.update(pools.isvcs())
        return all(
            real_tier.ready_condition(last.get(n, {})).get("status") == "True" for n in wanted
        )

    def why() -> str:
        waiting = {
            n: real_tier.ready_condition(last.get(n, {}))
            for n in wanted
            if real_tier.ready_condition(last.get(n, {})).get("status") != "True"
        }
        return f"Ready: {len(wanted) - len(waiting)}/{len(wanted)}; waiting: {waiting}"

    wait_for(all_ready, READY_TIMEOUT, 1.0, why)
    return time.monotonic() - start


def restarts(pods: list[dict[str, Any]]) -> list[str]:
    """Containers that restarted or were OOM-killed, with why."""
    found = []
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            last = (status.get("lastState") or {}).get("terminated") or {}
            if status.get("restartCount") or last:
                found.append(f"{pod['metadata']['name']}: {status.get('restartCount')} {last}")
    return found


def test_30_inference_services_share_a_2_replica_pool(pools: Pools) -> None:
    cluster = pools.cluster
    single_uri = f"{pools.base}/{small(0)}/model.onnx"
    items = [runtime(SMALL, 2, "256Mi"), isvc(SINGLE, single_uri, None)]
    items += [
        isvc(small(i), f"{pools.base}/{small(i)}/model.onnx", SMALL) for i in range(SMALL_COUNT)
    ]
    apply(cluster, items)
    everyone = [small(i) for i in range(SMALL_COUNT)]
    seconds = wait_ready(pools, [*everyone, SINGLE])
    found = pools.isvcs()
    # no Deployment for the pooled models: only the single one has one
    deployments = pools.kubectl_json("get", "deployments", "-n", NAMESPACE)["items"]
    owners = {d["metadata"]["labels"].get(names.ISVC_LABEL) for d in deployments}
    assert owners == {SINGLE}, owners
    placed: dict[str, list[str]] = {}
    for name in everyone:
        status = found[name]["status"]
        assert status["url"] == f"http://{names.host(name, NAMESPACE, real_tier.DOMAIN)}"
        replicas = status["modelStatus"]["placement"]["replicas"]
        assert status["modelStatus"]["states"]["activeModelState"] in ("Loaded", "Unloaded")
        placed.setdefault(replicas[0], []).append(name)
    pools.routed(everyone)
    wrong = {}
    for name in everyone:
        code, value, _ = pools.ask(name)
        if code != 200 or value != answer_of(name):
            wrong[name] = (code, value)
    assert not wrong, f"answers through the Ingress that are not the model's own: {wrong}"
    pool_pods = pools.pods(SMALL)
    assert len(pool_pods) == 2
    assert not restarts(pool_pods)
    pool_rss = sum(pools.resident(p) for p in pool_pods)
    selector = f"{names.ISVC_LABEL}={SINGLE}"
    single_pods = pools.kubectl_json("get", "pods", "-n", NAMESPACE, "-l", selector)["items"]
    single_rss = pools.resident(single_pods[0])
    mib = 2**20
    print(
        f"\n(a) {SMALL_COUNT} InferenceServices Ready {seconds:.1f}s after apply, on pool "
        f"{names.pool(SMALL)}: "
        + ", ".join(f"{p}: {len(m)} models" for p, m in sorted(placed.items()))
    )
    print(f"    pods: 2 (pool) vs {SMALL_COUNT} (one per InferenceService)")
    print(
        f"    memory (server RSS, /metrics process_resident_memory_bytes): pool total "
        f"{pool_rss / mib:.0f} MiB vs {SMALL_COUNT} x {single_rss / mib:.0f} MiB "
        f"(one ordinary InferenceService's pod, measured here) = "
        f"{SMALL_COUNT * single_rss / mib:.0f} MiB"
    )
    assert pool_rss < SMALL_COUNT * single_rss


def test_an_overcommitted_pool_answers_every_model_and_never_runs_out_of_memory(
    pools: Pools,
) -> None:
    cluster = pools.cluster
    capacity = int(BIG_BYTES * (TIGHT_SLOTS + 0.5))
    items = [runtime(TIGHT, 1, str(capacity))]
    items += [isvc(big(i), f"{pools.base}/{big(i)}/model.onnx", TIGHT) for i in range(TIGHT_COUNT)]
    apply(cluster, items)
    everyone = [big(i) for i in range(TIGHT_COUNT)]
    seconds = wait_ready(pools, everyone)
    pools.routed(everyone)
    (pod,) = pools.pods(TIGHT)
    cold: list[float] = []
    warm: list[float] = []
    most_loaded = 0
    wrong = {}
    # Twice round all 20 in order (a cycle longer than the capacity: each request finds its
    # model evicted), then each model twice in a row (the second finds it loaded). Each request
    # is counted cold or warm by the model's state on the replica just before it.
    order = everyone * 2 + [n for n in everyone for _ in range(2)]
    for name in order:
        before = pools.index(pod)[name]
        code, value, took = pools.ask(name)
        if code != 200 or value != answer_of(name):
            wrong[name] = (code, value)
        (warm if before["state"] == "READY" else cold).append(took)
        loaded = [i for i in pools.index(pod).values() if i["state"] == "READY"]
        most_loaded = max(most_loaded, len(loaded))
    assert not wrong, f"models that did not answer their own value: {wrong}; " + (
        pools.operator_log()
    )
    assert cold and warm, (len(cold), len(warm))
    assert most_loaded <= TIGHT_SLOTS + 1, most_loaded
    (pod,) = pools.pods(TIGHT)
    assert not restarts([pod]), restarts([pod])
    limit = pod["spec"]["containers"][0]["resources"]["limits"]["memory"]
    rss = pools.resident(pod)

    def an_unloaded_status() -> bool:
        states = [
            i["status"]["modelStatus"]["states"]["activeModelState"] for i in pools.isvcs().values()
        ]
        return "Unloaded" in states and all(s in ("Loaded", "Unloaded") for s in states)

    wait_for(an_unloaded_status, 60, 1.0, "an evicted model's status says Unloaded")
    mb = 1e6
    print(
        f"\n(b) {TIGHT_COUNT} InferenceServices of ~{BIG_BYTES / mb:.0f} MB on one replica "
        f"with capacity {capacity / mb:.0f} MB ({TIGHT_SLOTS} models): Ready {seconds:.1f}s "
        f"after apply; every model answered"
    )
    print(
        f"    cold (evicted, loaded on the request): p50 {statistics.median(cold) * 1000:.0f} ms "
        f"over {len(cold)} requests; warm: p50 {statistics.median(warm) * 1000:.0f} ms over "
        f"{len(warm)}"
    )
    print(
        f"    at most {most_loaded} models loaded at once; server RSS {rss / mb:.0f} MB, "
        f"container limit {int(limit) / mb:.0f} MB; restarts: 0, OOMKilled: none"
    )
