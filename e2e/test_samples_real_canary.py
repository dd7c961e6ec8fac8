"""Canary rollouts on real pods, through the node's Gateway (Traefik's Gateway API provider).

The operator is installed in Gateway mode (`config.gateway`), so every InferenceService gets
an HTTPRoute with weighted backendRefs to its predictor revisions' Services. Two ONNX models
made here answer differently (INPUT0 + 1 and INPUT0 + 2), so each answer says which revision
served it. In order, on one InferenceService:

1. the stable model alone;
2. the canary at `canaryTrafficPercent: 20`: 1,000 requests land 20% +- a binomial bound on it;
   An InferenceGraph whose step names it is routed by its own HTTPRoute, and its router
   honours the split (the step calls a Splitter over the revisions), and keeps answering every
   request while its router is restarted and the canary's pod is deleted;
3. rollback (`0`): everything on the stable revision again;
4. promotion (the field removed): everything on the canary, the stable revision removed;
5. a canary that cannot load: no traffic for it, and the status says why.

The counts are printed (run with -s to see them). The module runs after
test_samples_real.py (its name sorts after it): that module's install then starts from a
fresh release, and this one switches the operator to Gateway mode and back while the node is
quiet.
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from e2e import real_tier, tier_storage
from modelplane.operator import names
from tests.support import models
from tests.support.node_cluster import RealCluster
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.real, pytest.mark.timeout(900)]

NAMESPACE = "canary"
NAME = "split"
GRAPH = "split-graph"
STABLE, CANARY = 1.0, 2.0  # what each model adds to INPUT0 = 0
REQUESTS = 1000
CANARY_PERCENT = 20
TIMEOUT = 240.0
BODY = {"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [0.0]}]}


class Canary:
    """The InferenceService under test and what it takes to look at it."""

    def __init__(self, cluster: RealCluster) -> None:
        self.cluster = cluster
        self.client = httpx.Client(
            base_url=cluster.gateway_url,
            headers={"Host": names.host(NAME, NAMESPACE, real_tier.DOMAIN)},
            timeout=10,
        )
        self.stable_revision = ""
        self.canary_revision = ""
        self.failures: list[str] = []  # the first failed answers, to say why

    def get(self, kind: str, name: str) -> dict[str, Any]:
        out = self.cluster.kubectl("get", kind, name, "-n", NAMESPACE, "-o", "json")
        found: dict[str, Any] = json.loads(out.stdout)
        return found

    def predictor(self) -> dict[str, Any]:
        status = self.get("isvc", NAME).get("status") or {}
        found: dict[str, Any] = (status.get("components") or {}).get(names.PREDICTOR) or {}
        return found

    def traffic(self) -> dict[str, int]:
        return {t["revisionName"]: t["percent"] for t in self.predictor().get("traffic") or []}

    def condition(self, type_: str) -> dict[str, Any]:
        conditions = (self.get("isvc", NAME).get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c["type"] == type_), {})

    def revisions(self) -> list[str]:
        selector = f"{names.ISVC_LABEL}={NAME},{names.COMPONENT_LABEL}={names.PREDICTOR}"
        deployments = real_tier.labelled(self.cluster, "deployments", NAMESPACE, selector)
        return sorted(d["metadata"]["name"] for d in deployments)

    def patch(self, predictor: dict[str, Any]) -> None:
        body = json.dumps({"spec": {"predictor": predictor}})
        self.cluster.kubectl("patch", "isvc", NAME, "-n", NAMESPACE, "--type", "merge", "-p", body)

    def route_synced(self) -> bool:
        """The Gateway has accepted the HTTPRoute's latest generation."""
        route = self.get("httproute", NAME)
        generation = route["metadata"]["generation"]
        parents = (route.get("status") or {}).get("parents") or []
        return bool(parents) and all(
            c.get("observedGeneration") == generation and c.get("status") == "True"
            for c in parents[0].get("conditions") or []
        )

    def settle(self, only: set[float], what: str) -> None:
        """Wait until 10 answers in a row come from `only` and each of them: Traefik applies
        a route a moment (its provider's throttle, about 2 s) after it reports it accepted."""
        wait_for(lambda: set(self.ask(10)) == only, 30, 0.5, what)

    def weights(self) -> dict[str, int]:
        rule = self.get("httproute", NAME)["spec"]["rules"][0]
        return {ref["name"]: ref.get("weight", 1) for ref in rule["backendRefs"]}

    def ask(self, count: int, owner: str = NAME) -> Counter[float]:
        """`count` requests through the Gateway to the InferenceService (or a graph): how many
        each model answered (or the HTTP status, negated)."""
        answers: Counter[float] = Counter()
        host = names.host(owner, NAMESPACE, real_tier.DOMAIN)
        for _ in range(count):
            reply = self.client.post(f"/v2/models/{owner}/infer", json=BODY, headers={"Host": host})
            if reply.status_code != 200:
                answers[-reply.status_code] += 1
                if len(self.failures) < 5:
                    self.failures.append(f"{reply.status_code} {reply.text[:300]}")
                continue
            answers[reply.json()["outputs"][0]["data"][0]] += 1
        return answers


def isvc(storage: str) -> dict[str, Any]:
    resources = {"requests": {"cpu": real_tier.TEST_CPU_REQUEST, "memory": "64Mi"}}
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "onnx"},
                    "storageUri": f"pvc://models/{storage}",
                    "resources": resources,
                }
            }
        },
    }


def model_storage(storage: str) -> dict[str, Any]:
    return {"model": {"storageUri": f"pvc://models/{storage}"}}


@pytest.fixture(scope="module")
def canary(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    work = tmp_path_factory.mktemp("canary")
    claim = real_cluster.paths.state / "canary-models"
    shutil.rmtree(claim, ignore_errors=True)
    models.onnx_add_constant(claim / "stable" / "model.onnx", STABLE)
    models.onnx_add_constant(claim / "canary" / "model.onnx", CANARY)
    models.broken_onnx(claim / "broken" / "model.onnx")
    tier_storage.open_permissions(claim)
    forget(real_cluster)  # a reused cluster: the last run's claim would stay Released
    real_tier.install(real_cluster, NAMESPACE, claim, work, "http://127.0.0.1:1", gateway=True)
    try:
        yield Canary(real_cluster)
    finally:
        forget(real_cluster)
        # back to the tier's Ingress mode now, while the node is quiet: the next module's
        # install (often right after a large image import) then changes nothing
        real_tier.install_chart(real_cluster, work, "http://127.0.0.1:1")


def forget(cluster: RealCluster) -> None:
    """Delete the test's namespace and its claim's PersistentVolume (cluster-scoped)."""
    cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")
    cluster.kubectl("delete", "pv", f"models-{NAMESPACE}", "--ignore-not-found", check=False)


def test_the_stable_model_is_routed_by_an_accepted_httproute(canary: Canary) -> None:
    canary.cluster.kubectl("apply", "-f", "-", input=json.dumps(isvc("stable")))
    wait_for(
        lambda: canary.condition("Ready").get("status") == "True",
        TIMEOUT,
        1.0,
        lambda: f"Ready: {canary.condition('Ready')}",
    )
    ingress = canary.condition("IngressReady")
    assert ingress["reason"] == "RouteAccepted", ingress
    wait_for(canary.route_synced, 60, 0.5, "the Gateway accepted the route")
    (canary.stable_revision,) = canary.revisions()
    assert canary.traffic() == {canary.stable_revision: 100}
    assert canary.predictor()["latestRolledoutRevision"] == canary.stable_revision
    wait_for(lambda: canary.ask(1) == Counter({STABLE: 1}), 60, 0.5, "answers through the Gateway")
    assert canary.ask(50) == Counter({STABLE: 50})


def test_a_canary_at_20_percent_gets_20_percent_of_1000_requests(canary: Canary) -> None:
    canary.patch({**model_storage("canary"), "canaryTrafficPercent": CANARY_PERCENT})

    def split() -> bool:
        traffic = canary.traffic()
        return len(traffic) == 2 and traffic.get(canary.stable_revision) == 100 - CANARY_PERCENT

    wait_for(split, TIMEOUT, 1.0, lambda: f"a split in the status: {canary.predictor()}")
    (canary.canary_revision,) = set(canary.traffic()) - {canary.stable_revision}
    assert canary.predictor()["latestCreatedRevision"] == canary.canary_revision
    assert canary.weights() == {canary.stable_revision: 80, canary.canary_revision: 20}
    wait_for(canary.route_synced, 60, 0.5, "the Gateway accepted the split")
    canary.settle({STABLE, CANARY}, "the split applied by the Gateway")
    answers = canary.ask(REQUESTS)
    p = CANARY_PERCENT / 100
    bound = 4 * math.sqrt(REQUESTS * p * (1 - p))  # 4 standard deviations: about 51
    print(
        f"\ncanary {CANARY_PERCENT}%: {REQUESTS} requests -> stable {answers[STABLE]}, "
        f"canary {answers[CANARY]}, other {REQUESTS - answers[STABLE] - answers[CANARY]} "
        f"(expected {REQUESTS * p:.0f} +- {bound:.0f})"
    )
    assert answers[STABLE] + answers[CANARY] == REQUESTS, answers
    assert abs(answers[CANARY] - REQUESTS * p) <= bound


def apply_graph(canary: Canary, name: str) -> None:
    """A one-step graph naming the split InferenceService, applied and Ready."""
    graph = {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": NAME}]}}},
    }
    canary.cluster.kubectl("apply", "-f", "-", input=json.dumps(graph))

    def ready() -> bool:
        conditions = (canary.get("ig", name).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_for(ready, TIMEOUT, 1.0, f"the graph {name} Ready")
    # Traefik routes to the router a moment after the route is Accepted and the router Ready
    # (until then it answers 503 "no available server"): wait for 10 answers in a row
    wait_for(
        lambda: set(canary.ask(10, name)) <= {STABLE, CANARY},
        60,
        0.5,
        f"the graph {name} routed by the Gateway",
    )
    canary.failures.clear()  # what the wait saw is not the test's


def test_a_graph_step_naming_the_split_service_honours_the_split(canary: Canary) -> None:
    try:
        apply_graph(canary, GRAPH)
        assert canary.get("httproute", GRAPH)["spec"]["rules"][0]["backendRefs"][0]["name"] == (
            names.router(GRAPH)
        )
        count = 500
        answers = canary.ask(count, GRAPH)
        p = CANARY_PERCENT / 100
        bound = 4 * math.sqrt(count * p * (1 - p))  # the router picks at random: about 36
        print(
            f"\ngraph over the canary: {count} requests -> stable {answers[STABLE]}, "
            f"canary {answers[CANARY]} (expected {count * p:.0f} +- {bound:.0f})"
        )
        for failure in canary.failures:
            print(f"  failed: {failure}")
        assert answers[STABLE] + answers[CANARY] == count, (answers, canary.failures)
        assert abs(answers[CANARY] - count * p) <= bound
    finally:
        canary.cluster.kubectl("delete", "ig", GRAPH, "-n", NAMESPACE, "--wait=false")


def test_a_graph_over_the_split_answers_while_its_router_rolls_and_the_canary_pod_dies(
    canary: Canary,
) -> None:
    """Requests back to back through a graph over the split while its router is restarted
    and then the canary's pod is deleted: every one is answered. (Before: Traefik answered
    500 for a POST on a router connection closing after uvicorn's 5 s keep-alive; calls to
    the canary while its pod was gone got 502, or hung on a connect nobody answered.)"""
    name = "churn-graph"
    apply_graph(canary, name)
    router = names.router(name)
    timeline: list[str] = []
    started = time.monotonic()

    def note(what: str) -> None:
        timeline.append(f"{time.monotonic() - started:6.2f} s  {what}")

    def canary_pods() -> list[str]:
        selector = f"{names.REVISION_LABEL}={canary.canary_revision}"
        pods = real_tier.labelled(canary.cluster, "pods", NAMESPACE, selector)
        return [p["metadata"]["name"] for p in pods]

    def churn() -> None:
        time.sleep(2)
        note("router restarted")
        canary.cluster.kubectl("rollout", "restart", "deployment", router, "-n", NAMESPACE)
        canary.cluster.kubectl(
            "rollout", "status", "deployment", router, "-n", NAMESPACE, "--timeout=120s"
        )
        note("router rolled")
        time.sleep(3)
        doomed = canary_pods()
        note(f"canary pod(s) deleted: {doomed}")
        for pod in doomed:
            canary.cluster.kubectl("delete", "pod", pod, "-n", NAMESPACE, "--wait=false")
        wait_for(
            lambda: (
                canary.traffic() == {canary.stable_revision: 80, canary.canary_revision: 20}
                and not set(doomed) & set(canary_pods())
            ),
            120,
            0.5,
            "the canary back in the split",
        )
        note("canary back in the split")
        time.sleep(5)

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    answers: Counter[float] = Counter()
    host = names.host(name, NAMESPACE, real_tier.DOMAIN)
    try:
        while thread.is_alive() and time.monotonic() - started < 240:  # bounded in time
            asked = time.monotonic()
            try:
                reply = canary.client.post(
                    f"/v2/models/{name}/infer", json=BODY, headers={"Host": host}
                )
            except httpx.HTTPError as exc:
                answers[-1] += 1
                note(f"no answer after {time.monotonic() - asked:.2f} s: {exc!r}")
                continue
            if reply.status_code != 200:
                answers[-reply.status_code] += 1
                note(f"{reply.status_code} {reply.text[:200]}")
                continue
            answers[reply.json()["outputs"][0]["data"][0]] += 1
        thread.join(timeout=150)
    finally:
        canary.cluster.kubectl("delete", "ig", name, "-n", NAMESPACE, "--wait=false")
    print(f"\ngraph under churn: {answers.total()} requests -> {dict(answers)}")
    for line in timeline[:40]:
        print(f"  {line}")
    assert not thread.is_alive(), timeline
    assert answers[STABLE] + answers[CANARY] == answers.total(), timeline
    assert answers[STABLE] and answers[CANARY]


def test_rollback_sends_everything_to_the_stable_revision(canary: Canary) -> None:
    canary.patch({"canaryTrafficPercent": 0})
    wait_for(
        lambda: canary.traffic() == {canary.stable_revision: 100, canary.canary_revision: 0},
        TIMEOUT,
        1.0,
        lambda: f"rolled back: {canary.predictor()}",
    )
    assert canary.weights() == {canary.stable_revision: 100}
    wait_for(canary.route_synced, 60, 0.5, "the Gateway accepted the rollback")
    canary.settle({STABLE}, "the rollback applied by the Gateway")
    answers = canary.ask(200)
    print(f"\nrollback: 200 requests -> {dict(answers)}")
    assert answers == Counter({STABLE: 200})
    assert canary.revisions() == sorted([canary.stable_revision, canary.canary_revision])


def test_promotion_sends_everything_to_the_canary_and_removes_the_old_revision(
    canary: Canary,
) -> None:
    canary.patch({"canaryTrafficPercent": None})
    wait_for(
        lambda: canary.revisions() == [canary.canary_revision],
        TIMEOUT,
        1.0,
        lambda: f"promoted, old revision gone: {canary.revisions()} {canary.predictor()}",
    )
    predictor = canary.predictor()
    assert canary.traffic() == {canary.canary_revision: 100}
    assert predictor["latestRolledoutRevision"] == canary.canary_revision
    assert predictor["previousRolledoutRevision"] == canary.stable_revision
    wait_for(canary.route_synced, 60, 0.5, "the Gateway accepted the promotion")
    canary.settle({CANARY}, "the promotion applied by the Gateway")
    answers = canary.ask(200)
    print(f"\npromotion: 200 requests -> {dict(answers)}")
    assert answers == Counter({CANARY: 200})


def test_a_canary_that_cannot_load_gets_no_traffic_and_the_status_says_why(
    canary: Canary,
) -> None:
    canary.patch({**model_storage("broken"), "canaryTrafficPercent": CANARY_PERCENT})
    wait_for(
        lambda: canary.condition("LatestRevisionReady").get("reason") == "ModelLoadFailed",
        TIMEOUT,
        1.0,
        lambda: f"the failed canary in the status: {canary.condition('LatestRevisionReady')}",
    )
    latest = canary.predictor()["latestCreatedRevision"]
    assert latest not in (canary.stable_revision, canary.canary_revision)
    assert canary.traffic() == {canary.canary_revision: 100, latest: 0}
    assert canary.weights() == {canary.canary_revision: 100}
    assert canary.condition("Ready")["status"] == "True"  # the serving revision still serves
    message = canary.condition("LatestRevisionReady")["message"]
    print(f"\nfailed canary: {message}")
    assert latest in message and "receives no traffic" in message
    answers = canary.ask(200)
    print(f"failed canary: 200 requests -> {dict(answers)}")
    assert answers == Counter({CANARY: 200})
