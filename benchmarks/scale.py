"""make bench-scale: scale to zero and wake on request on the real test node, with its times.

One InferenceService of the samples' iris classifier with `minReplicas: 0` and a short
`scaleToZeroAfterSeconds`, reached through Traefik on the node bridge with its Host header:

1. idle: after its last request, how long until its Deployment is at 0 replicas, its status
   `Ready`/`ScaledToZero` and its Service sent to the activator (no selector);
2. one request at zero: the wake time (request sent to answer), the answer, and where the
   time went (the woken pod's scheduled / started / ready times, second precision);
   then how long until the Service has its selector back (warm: no extra hop);
3. 20 concurrent requests at zero (after idling again): how many were answered, the
   fastest and slowest wake; then, at zero a third time, one V2 gRPC request to the
   Service's ClusterIP:8081 (the activator's relay for it) and its wake time;
4. `rps`: the rps-scaled sample (manifests/samples/isvc-autoscaled-rps.yaml) under 20
   requests per second for 60 s through the Ingress: when Prometheus and prometheus-adapter
   first served its rate, when the HPA saw it and decided to scale, when the replicas were
   ready, how many, and when it was back at 1 replica after the load
   (e2e/scale_under_load.py);
5. `concurrency`: the same for an InferenceService scaled on requests in flight (1 per
   replica) over a Python model that answers in 0.2 s (`scale_under_load.concurrency_isvc`).

Prints JSON and writes `~/.cache/modelplane/reports/scale.json`; asserts nothing about time.
Every request goes to local addresses only; every loop is bounded.

    python -m benchmarks.scale            # starts (and tears down) the real node
    python -m benchmarks.scale --only rps # parts: zero (1-3), rps (4), concurrency (5)
    MODELPLANE_REUSE_CLUSTER=1 python -m benchmarks.scale   # the `make cluster-up REAL=1` one
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from e2e import real_tier, sample_models, scale_under_load, tier_storage
from tests.support import controlplane, realnode
from tests.support.controlplane import CommandFailed
from tests.support.node_cluster import RealCluster

NAMESPACE = "scale"
NAME = "iris-zero"
IDLE_SECONDS = 20
REQUEST = {
    "inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}
    ]
}
WAKE_TIMEOUT = 180.0  # the client's; the activator holds for its wakeTimeoutSeconds (120 s)
RPS_SAMPLE = real_tier.SAMPLES / "isvc-autoscaled-rps.yaml"
LOAD = scale_under_load.Load(rate=20, seconds=60)
SETTLE_SECONDS = 180.0
PARTS = ("zero", "rps", "concurrency")


def isvc() -> dict[str, Any]:
    return real_tier.zero_isvc(NAME, NAMESPACE, IDLE_SECONDS)


def get(cluster: RealCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-n", NAMESPACE, "-o", "json").stdout)


def wait(predicate: Any, timeout: float, what: str, interval: float = 0.25) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def ready(cluster: RealCluster) -> dict[str, Any]:
    return real_tier.ready_condition(get(cluster, "isvc", NAME))


def predictor(cluster: RealCluster) -> tuple[int, int]:
    """(the predictor revision Deployment's spec.replicas, pods not terminating)."""
    label = f"serving.modelplane.io/inferenceservice={NAME}"
    (deployment,) = get(cluster, "deployments", "-l", label)["items"]  # one revision
    pods = get(cluster, "pods", "-l", label)["items"]
    alive = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return int(deployment["spec"].get("replicas", -1)), len(alive)


def service_selector(cluster: RealCluster) -> dict[str, str] | None:
    selector: dict[str, str] | None = get(cluster, "service", f"{NAME}-predictor")["spec"].get(
        "selector"
    )
    return selector


def at_zero(cluster: RealCluster) -> bool:
    return (
        predictor(cluster) == (0, 0)
        and ready(cluster).get("reason") == "ScaledToZero"
        and not service_selector(cluster)
    )


def url_and_host(cluster: RealCluster) -> tuple[str, str]:
    return (
        f"{cluster.ingress}/v2/models/{NAME}/infer",
        f"{NAME}-{NAMESPACE}.{real_tier.DOMAIN}",
    )


def one_request(cluster: RealCluster) -> tuple[float, int, Any]:
    url, host = url_and_host(cluster)
    sent = time.monotonic()
    answer = httpx.post(url, json=REQUEST, headers={"Host": host}, timeout=WAKE_TIMEOUT)
    took = time.monotonic() - sent
    body = (
        answer.json()
        if answer.headers.get("content-type", "").startswith("application/json")
        else answer.text
    )
    return took, answer.status_code, body


async def concurrent_requests(cluster: RealCluster, count: int) -> list[tuple[float, str, Any]]:
    url, host = url_and_host(cluster)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=WAKE_TIMEOUT, limits=limits) as client:

        async def send() -> tuple[float, str, Any]:
            sent = time.monotonic()
            try:
                answer = await client.post(url, json=REQUEST, headers={"Host": host})
                outcome, body = str(answer.status_code), answer.json()
            except (httpx.HTTPError, ValueError) as error:
                outcome, body = type(error).__name__, None
            return time.monotonic() - sent, outcome, body

        return list(await asyncio.gather(*(send() for _ in range(count))))


def stamp(value: str | None) -> float | None:
    if not value:
        return None
    return (
        datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=datetime.UTC)
        .timestamp()
    )


def where_the_time_went(cluster: RealCluster, sent_at: float) -> dict[str, float | None]:
    """Seconds from the request to each step of the woken pod (API times: 1 s precision)."""
    pods = get(cluster, "pods", "-l", f"serving.modelplane.io/inferenceservice={NAME}")["items"]
    if not pods:
        return {}
    pod = max(pods, key=lambda p: p["metadata"]["creationTimestamp"])
    conditions = {
        c["type"]: c.get("lastTransitionTime") for c in pod["status"].get("conditions", [])
    }
    started = None
    for container in pod["status"].get("containerStatuses", []):
        started = (container.get("state", {}).get("running") or {}).get("startedAt") or started

    def since(value: str | None) -> float | None:
        at = stamp(value)
        return None if at is None else round(at - sent_at, 1)

    return {
        "pod_created": since(pod["metadata"]["creationTimestamp"]),
        "pod_scheduled": since(conditions.get("PodScheduled")),
        "initialized (storage: pvc, nothing to pull)": since(conditions.get("Initialized")),
        "container_started (image present on the node)": since(started),
        "ready (model loaded, readiness probe passed)": since(conditions.get("Ready")),
    }


def diagnose(cluster: RealCluster) -> dict[str, Any]:
    """What a failed phase leaves to read: the predictor's objects and the operator's log."""
    deployment = get(cluster, "deployments")["items"]
    service = get(cluster, "service", f"{NAME}-predictor")
    logs = cluster.kubectl(
        "logs", "-n", real_tier.SYSTEM_NAMESPACE, "deploy/modelplane-operator", "--tail=400",
        check=False,
    ).stdout  # fmt: skip
    return {
        "deployments": [
            (d["metadata"]["name"], d["spec"].get("replicas"), d["metadata"].get("annotations"))
            for d in deployment
        ],
        "service_selector": service["spec"].get("selector"),
        "endpoint_slices": [
            (s["metadata"]["name"], [e.get("addresses") for e in s.get("endpoints") or []])
            for s in get(cluster, "endpointslices")["items"]
        ],
        "operator_log": [
            line[:300]
            for line in logs.splitlines()
            if "modelplane.operator." in line and "kopf" not in line
        ][-30:],
    }


def run(cluster: RealCluster, work: Path, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    models = sample_models.build(work / "models")
    sample_models.slow_model(
        models.claim / scale_under_load.SLOW_MODEL_DIR,
        scale_under_load.SLOW_SECONDS,
        scale_under_load.SLOW_INSTANCES,
    )
    tier_storage.open_permissions(work / "models")
    real_tier.install(cluster, NAMESPACE, models.claim, work, "http://127.0.0.1:1")
    results: dict[str, Any] = {}
    if "zero" in parts:
        try:
            phases(cluster, results)
        except (TimeoutError, httpx.HTTPError, ValueError, CommandFailed) as failure:
            results["failed"] = f"{type(failure).__name__}: {failure}"
            results["diagnosis"] = diagnose(cluster)
        cluster.kubectl("delete", "isvc", NAME, "-n", NAMESPACE, "--wait=false", check=False)
    scaled = {
        "rps": lambda: real_tier.test_overlay(yaml.safe_load(RPS_SAMPLE.read_text())),
        "concurrency": lambda: scale_under_load.concurrency_isvc("iris-inflight"),
    }
    for metric, document in scaled.items():
        if metric in parts:
            try:
                results[metric] = load_phase(cluster, document(), metric)
            except (TimeoutError, ValueError, CommandFailed) as failure:
                results[metric] = {"failed": f"{type(failure).__name__}: {failure}"}
    return results


def load_phase(cluster: RealCluster, doc: dict[str, Any], metric: str) -> dict[str, Any]:
    """An InferenceService scaled on `metric` from 1 replica to more under bounded load, and
    back."""
    name = str(doc["metadata"]["name"])
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))

    def is_ready() -> bool:
        found = get(cluster, "isvc", name)
        return bool(real_tier.ready_condition(found).get("status") == "True")

    wait(is_ready, 300, f"{name} Ready")
    timeline = scale_under_load.run(cluster, NAMESPACE, name, metric, REQUEST, LOAD, SETTLE_SECONDS)
    cluster.kubectl("delete", "isvc", name, "-n", NAMESPACE, "--wait=false", check=False)
    report = timeline.report()
    predictor = doc["spec"]["predictor"]
    report["isvc"] = {
        "name": name,
        "scaleMetric": metric,
        "scaleTarget": predictor["scaleTarget"],
        "maxReplicas": predictor["maxReplicas"],
    }
    return report


def phases(cluster: RealCluster, results: dict[str, Any]) -> None:
    applied = time.monotonic()
    cluster.kubectl("apply", "-f", "-", input=json.dumps(isvc()))
    # Ready, then answered: it may already be at zero (scaleToZeroAfterSeconds is short), so
    # the first answer may be a wake of its own
    wait(lambda: ready(cluster).get("status") == "True", 300, "Ready")
    wait(lambda: one_request(cluster)[1] == 200, 180, "answered through the Ingress")
    results["apply_to_answer_seconds"] = round(time.monotonic() - applied, 1)

    last = time.monotonic()
    wait(lambda: at_zero(cluster), IDLE_SECONDS + 120, "scaled to zero", interval=0.5)
    results["idle"] = {
        "scaleToZeroAfterSeconds": IDLE_SECONDS,
        "last_request_to_zero_seconds": round(time.monotonic() - last, 1),
        "status": ready(cluster),
    }

    sent_at = time.time()
    took, status, body = one_request(cluster)
    retries: list[tuple[float, int]] = []  # (seconds after the first, status) until a 200
    while status != 200 and len(retries) < 120:
        time.sleep(0.5)
        _, retry_status, _ = one_request(cluster)
        retries.append((round(time.time() - sent_at, 1), retry_status))
        if retry_status == 200:
            break
    selector_back = wait(lambda: bool(service_selector(cluster)), 60, "selector restored")
    results["one_request_at_zero"] = {
        "status": status,
        "answer": real_tier.summarize(body) if status == 200 else body,
        "wake_seconds": round(took, 2),
        "where_the_time_went": where_the_time_went(cluster, sent_at),
        "service_selector_back_after_answer_seconds": round(selector_back, 1),
        "retries_until_answered": retries,
    }
    warm_took, warm_status, warm_body = one_request(cluster)
    results["warm_request"] = {"status": warm_status, "seconds": round(warm_took, 3)}
    if warm_status != 200:
        results["warm_request"]["answer"] = warm_body
        results["warm_request"]["endpoint_slices"] = [
            (s["metadata"]["name"], [e.get("conditions") for e in s.get("endpoints") or []])
            for s in get(cluster, "endpointslices")["items"]
        ]

    last = time.monotonic()
    wait(lambda: at_zero(cluster), IDLE_SECONDS + 120, "scaled to zero again", interval=0.5)
    results["idle_again_seconds"] = round(time.monotonic() - last, 1)
    outcomes = asyncio.run(concurrent_requests(cluster, 20))
    answered = [o for o in outcomes if o[1] == "200"]
    results["concurrent_at_zero"] = {
        "sent": len(outcomes),
        "answered_200": len(answered),
        "outcomes": sorted({o[1] for o in outcomes}),
        "answers": sorted({real_tier.summarize(o[2]) for o in answered}),
        "fastest_seconds": round(min(o[0] for o in outcomes), 2),
        "slowest_seconds": round(max(o[0] for o in outcomes), 2),
        "pods_after": predictor(cluster)[1],
    }

    last = time.monotonic()
    wait(lambda: at_zero(cluster), IDLE_SECONDS + 120, "scaled to zero a third time", interval=0.5)
    results["grpc_at_zero"] = grpc_at_zero(cluster)
    results["grpc_at_zero"]["idle_seconds"] = round(time.monotonic() - last, 1)


def grpc_at_zero(cluster: RealCluster) -> dict[str, Any]:
    """One V2 gRPC request (tritonclient) to the Service's ClusterIP:8081 at zero: held by
    the activator's relay for this component while it wakes, then relayed to the pod."""
    import numpy as np
    import tritonclient.grpc as grpcclient

    address = get(cluster, "service", f"{NAME}-predictor")["spec"]["clusterIP"]
    client = grpcclient.InferenceServerClient(f"{address}:8081")
    try:
        tensor = grpcclient.InferInput("features", [1, 4], "FP32")
        tensor.set_data_from_numpy(np.asarray([REQUEST["inputs"][0]["data"]], dtype=np.float32))
        sent = time.monotonic()
        result = client.infer(NAME, [tensor], client_timeout=WAKE_TIMEOUT)
        took = time.monotonic() - sent
    finally:
        client.close()
    answer = {
        "outputs": [
            {"name": "probabilities", "data": result.as_numpy("probabilities").ravel().tolist()}
        ]
    }
    return {"wake_seconds": round(took, 2), "answer": real_tier.summarize(answer)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=PARTS, action="append", help="run this part (repeatable; default: all)"
    )
    args = parser.parse_args(argv)
    parts = tuple(args.only) if args.only else PARTS
    reuse = os.environ.get("MODELPLANE_REUSE_CLUSTER", "") not in ("", "0", "false")
    work = controlplane.temp_state_dir()
    started_cluster: RealCluster | None = None
    try:
        if reuse:
            cluster = realnode.running_manual_cluster()
            if cluster is None:
                print("bench-scale: no real cluster runs (make cluster-up REAL=1)", file=sys.stderr)
                return 1
        else:
            from tools.images import built

            started_cluster = cluster = realnode.start(
                work / "cluster", built(realnode.TIER_IMAGES), tied=True
            )
        results = run(cluster, work, parts)
    finally:
        if started_cluster is not None:
            problems = realnode.stop(started_cluster)
            for problem in problems:
                print(f"bench-scale: NOT UNDONE: {problem}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    path = controlplane.cache_dir() / "reports" / "scale.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
