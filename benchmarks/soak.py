"""make soak: bounded load through the Gateway of the real test node (the operator in Gateway
mode: HTTPRoutes) while revisions are promoted and pods die and scale. Prints requests sent,
failed and latency per phase, and the times autoscaling took; asserts nothing about time.

Three phases, each on its own InferenceService of the samples' iris classifier:

- promotion: 2 replicas; the predictor's env changes with `canaryTrafficPercent: 50` while
  the load runs (a new revision starts; once it is ready the route splits 50/50), then the
  field is removed (the route moves everything to the new revision, the old one's pods get
  SIGTERM);
- pod kill: 2 replicas; one pod is deleted while the load runs;
- HPA: `scaleMetric: cpu` at 50% of a 100m request, 1 to 3 replicas; a CPU-bound load must
  take it from 1 to at least 2 replicas, and back to 1 once the load stops (metrics-server,
  the HPA controller deciding every 5 s and scaling down after 30 s of low load).

Every request goes to the Traefik address on the node bridge (the Gateway's listener) with the
Host header of the InferenceService; every loop is bounded in count and time.

    python -m benchmarks.soak            # starts (and tears down) the real node
    MODELPLANE_REUSE_CLUSTER=1 python -m benchmarks.soak   # the `make cluster-up REAL=1` one
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from e2e import real_tier, sample_models, tier_storage
from tests.support import controlplane, realnode
from tests.support.node_cluster import RealCluster

NAMESPACE = "soak"
REQUEST = {
    "inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}
    ]
}


@dataclass
class Load:
    """Outcomes of a bounded load: (seconds since start, latency s, status or error)."""

    started: float = field(default_factory=time.monotonic)
    results: list[tuple[float, float, str]] = field(default_factory=list)

    def summary(self, since: float = 0.0, until: float = float("inf")) -> dict[str, Any]:
        window = [r for r in self.results if since <= r[0] <= until]
        ok = sorted(latency for _, latency, outcome in window if outcome == "200")
        failed = [(at, outcome) for at, _, outcome in window if outcome != "200"]
        return {
            "sent": len(window),
            "failed": len(failed),
            "failures": sorted({outcome for _, outcome in failed})[:5],
            # seconds since the load started of the first and last failure
            "failed_between": [round(failed[0][0], 1), round(failed[-1][0], 1)] if failed else None,
            "p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
            "p99_ms": round(ok[int(len(ok) * 0.99) - 1] * 1000, 1) if len(ok) >= 100 else None,
        }


async def _worker(
    client: httpx.AsyncClient,
    url: str,
    host: str,
    load: Load,
    stop: asyncio.Event,
    budget: list[int],
) -> None:
    while not stop.is_set() and budget[0] > 0:
        budget[0] -= 1
        sent = time.monotonic()
        try:
            answer = await client.post(url, json=REQUEST, headers={"Host": host})
            outcome = str(answer.status_code)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        load.results.append((sent - load.started, time.monotonic() - sent, outcome))


@contextmanager
def load_running(
    cluster: RealCluster, name: str, clients: int, max_requests: int, max_seconds: float
) -> Iterator[Load]:
    """Run `clients` request loops against `name` through the Gateway in a background thread
    until the block ends, `max_requests` were sent or `max_seconds` passed."""
    import threading

    load = Load()
    url = f"{cluster.gateway_url}/v2/models/{name}/infer"
    host = f"{name}-{NAMESPACE}.{real_tier.DOMAIN}"
    stop_flag = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        budget = [max_requests]
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            tasks = [
                asyncio.create_task(_worker(client, url, host, load, stop, budget))
                for _ in range(clients)
            ]
            deadline = time.monotonic() + max_seconds
            # the stop signal is a threading.Event set by the caller's thread: polled
            while not stop_flag.is_set() and time.monotonic() < deadline and budget[0] > 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*tasks)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        yield load
    finally:
        stop_flag.set()
        thread.join(timeout=60)


def isvc(name: str, replicas: int, autoscale: bool = False) -> dict[str, Any]:
    predictor: dict[str, Any] = {
        "minReplicas": 1 if autoscale else replicas,
        "maxReplicas": 3 if autoscale else replicas,
        "model": {
            "modelFormat": {"name": "onnx"},
            "storageUri": "pvc://models/iris-onnx",
            "resources": {
                "requests": {
                    "cpu": "100m" if autoscale else real_tier.TEST_CPU_REQUEST,
                    "memory": "128Mi",
                },
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
        },
    }
    if autoscale:
        predictor |= {"scaleMetric": "cpu", "scaleTarget": 50}
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"predictor": predictor},
    }


def kubectl_json(cluster: RealCluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def owned(cluster: RealCluster, kind: str, name: str) -> list[dict[str, Any]]:
    """The objects of `kind` that belong to the InferenceService `name` (by its label)."""
    label = f"serving.modelplane.io/inferenceservice={name}"
    items: list[dict[str, Any]] = kubectl_json(cluster, "get", kind, "-n", NAMESPACE, "-l", label)[
        "items"
    ]
    return items


def ready_replicas(cluster: RealCluster, name: str) -> tuple[int, int]:
    """(ready pods, all pods not terminating) of the InferenceService's predictor."""
    pods = owned(cluster, "pods", name)
    alive = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    ready = [
        p
        for p in alive
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]
    return len(ready), len(alive)


def wait(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def isvc_ready(cluster: RealCluster, name: str) -> bool:
    item = kubectl_json(cluster, "get", "isvc", name, "-n", NAMESPACE)
    return real_tier.ready_condition(item).get("status") == "True"


def rolled(cluster: RealCluster, name: str, replicas: int) -> bool:
    deployments = owned(cluster, "deployments", name)
    if len(deployments) != 1:
        return False
    d = deployments[0]
    status = d.get("status", {})
    done = (
        status.get("observedGeneration", 0) >= d["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("replicas") == replicas
        and status.get("availableReplicas") == replicas
    )
    return done and ready_replicas(cluster, name) == (replicas, replicas)


def traffic(cluster: RealCluster, name: str) -> dict[str, int]:
    """The predictor's traffic split as the status reports it (revision -> percent)."""
    item = kubectl_json(cluster, "get", "isvc", name, "-n", NAMESPACE)
    predictor = ((item.get("status") or {}).get("components") or {}).get("predictor") or {}
    return {t["revisionName"]: t["percent"] for t in predictor.get("traffic") or []}


def phase_promotion(cluster: RealCluster, clients: int) -> dict[str, Any]:
    """A new revision (the predictor's env changes) as a 50% canary, then promoted, under
    load: the old revision serves until the new one is ready, the route splits, then moves
    everything and the old revision's pods go."""
    name = "soak-roll"
    with load_running(cluster, name, clients, 20000, 300) as load:
        time.sleep(5)
        changed_at = time.monotonic() - load.started
        patch = {
            "spec": {
                "predictor": {
                    "canaryTrafficPercent": 50,
                    "model": {"env": [{"name": "ROLL", "value": "2"}]},
                }
            }
        }
        cluster.kubectl(
            "patch", "isvc", name, "-n", NAMESPACE, "--type", "merge", "-p", json.dumps(patch)
        )
        split = wait(
            lambda: sorted(traffic(cluster, name).values()) == [50, 50], 180, "50% canary Ready"
        )
        time.sleep(5)
        promoted_at = time.monotonic() - load.started
        promote = {"spec": {"predictor": {"canaryTrafficPercent": None}}}
        cluster.kubectl(
            "patch", "isvc", name, "-n", NAMESPACE, "--type", "merge", "-p", json.dumps(promote)
        )
        took = wait(lambda: rolled(cluster, name, 2), 180, "promotion done, old revision gone")
        time.sleep(5)
    done_at = promoted_at + took
    return {
        "canary_ready_seconds": round(split, 1),
        "promotion_seconds": round(took, 1),
        "during_canary": load.summary(changed_at, promoted_at),
        "during_promotion": load.summary(promoted_at, done_at + 5),
        "whole_run": load.summary(),
    }


def phase_pod_kill(cluster: RealCluster, clients: int) -> dict[str, Any]:
    name = "soak-kill"
    with load_running(cluster, name, clients, 20000, 180) as load:
        time.sleep(5)
        pods = owned(cluster, "pods", name)
        victim = pods[0]["metadata"]["name"]
        killed_at = time.monotonic() - load.started
        cluster.kubectl("delete", "pod", victim, "-n", NAMESPACE, "--wait=false")
        took = wait(lambda: ready_replicas(cluster, name) == (2, 2), 180, "replacement Ready")
        time.sleep(5)
    return {
        "replaced_seconds": round(took, 1),
        "after_kill": load.summary(killed_at),
        "whole_run": load.summary(),
    }


def hpa_replicas(cluster: RealCluster, name: str) -> int:
    hpas = owned(cluster, "hpa", name)
    return int(hpas[0].get("status", {}).get("currentReplicas", 0)) if hpas else 0


def phase_hpa(cluster: RealCluster, clients: int) -> dict[str, Any]:
    name = "soak-hpa"
    with load_running(cluster, name, clients, 200000, 300) as load:
        up = wait(lambda: hpa_replicas(cluster, name) >= 2, 240, "HPA scaled up", interval=1)
        ready = wait(lambda: ready_replicas(cluster, name)[0] >= 2, 120, "second replica Ready")
    stopped = time.monotonic()
    down = wait(lambda: hpa_replicas(cluster, name) == 1, 300, "HPA scaled down", interval=1)
    return {
        "load_to_scale_up_seconds": round(up, 1),
        "scale_up_to_ready_seconds": round(ready, 1),
        "load_stop_to_scale_down_seconds": round(time.monotonic() - stopped, 1) if down else None,
        "peak_replicas": max(2, hpa_replicas(cluster, name)),
        "under_load": load.summary(),
    }


def install(cluster: RealCluster, work: Path) -> None:
    models = sample_models.build(work / "models")
    tier_storage.open_permissions(work / "models")
    real_tier.install(cluster, NAMESPACE, models.claim, work, "http://127.0.0.1:1", gateway=True)
    items = [isvc("soak-roll", 2), isvc("soak-kill", 2), isvc("soak-hpa", 1, autoscale=True)]
    cluster.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )
    for item in items:
        name = item["metadata"]["name"]
        wait(lambda n=name: isvc_ready(cluster, n), 300, "soak services Ready")
        # Ready is the operator's word; the phases start once the Gateway routes too
        wait(lambda n=name: routed(cluster, n), 60, f"{name} routed by the Gateway")


def routed(cluster: RealCluster, name: str) -> bool:
    host = f"{name}-{NAMESPACE}.{real_tier.DOMAIN}"
    url = f"{cluster.gateway_url}/v2/models/{name}/infer"
    try:
        return httpx.post(url, json=REQUEST, headers={"Host": host}, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def run(cluster: RealCluster, work: Path, clients: int) -> dict[str, Any]:
    install(cluster, work)
    return {
        "promotion": phase_promotion(cluster, clients),
        "pod_kill": phase_pod_kill(cluster, clients),
        "hpa": phase_hpa(cluster, clients),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent request loops")
    args = parser.parse_args(argv)
    reuse = os.environ.get("MODELPLANE_REUSE_CLUSTER", "") not in ("", "0", "false")
    work = controlplane.temp_state_dir()
    started_cluster: RealCluster | None = None
    try:
        if reuse:
            cluster = realnode.running_manual_cluster()
            if cluster is None:
                print("soak: no real cluster runs (make cluster-up REAL=1)", file=sys.stderr)
                return 1
        else:
            from tools.images import built

            started_cluster = cluster = realnode.start(
                work / "cluster", built(realnode.TIER_IMAGES), tied=True
            )
        results = run(cluster, work, args.clients)
    finally:
        if started_cluster is not None:
            problems = realnode.stop(started_cluster)
            for problem in problems:
                print(f"soak: NOT UNDONE: {problem}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    path = controlplane.cache_dir() / "reports" / "soak.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
