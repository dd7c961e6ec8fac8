"""Bounded load through the Ingress and what the HPA makes of it, on the real-pod tier.

An InferenceService scaled on `rps` (or `concurrency`), once one request through Traefik has
been answered, gets requests at a fixed rate for a fixed time there; meanwhile the API is
read every half second (the HPA, its Deployment, and the custom metrics API that
prometheus-adapter serves), and after the load the reading goes on until the Deployment is
back at its minimum. The timeline says when each moving part acted, in seconds from the
first request of the load:

- `metric_served`: the adapter first serves the Pods metric for the component's pods (the
  model server counted a request, Prometheus scraped it, the adapter had listed its series:
  the request that found the route made the counter's series, the gauge's exists once the
  pod has been scraped);
- `hpa_saw_metric`: the HPA's status first carries a value of it;
- `scale_decision`: the HPA's desiredReplicas (or the Deployment's replicas, which only the
  HPA sets, when read first) first rises above 1;
- `deployment_scaled`: the Deployment's spec.replicas first rises above 1;
- `replicas_ready`: the Deployment first has more than 1 ready replica;
- `load_end`, then `back_to_min`: the Deployment's spec.replicas back at 1.

Used by e2e/test_samples_real_autoscale.py (asserts replicas rose above 1 and came back) and
`make bench-scale` (prints the timeline). `concurrency_isvc` is the concurrency-scaled
InferenceService both use, on `sample_models.slow_model`. Every request goes to the node's ingress address;
the count, the concurrency and every wait are bounded.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from e2e import real_tier
from modelplane.operator import names
from modelplane.operator.render.autoscaling import POD_METRICS
from tests.support.local_processes import http_json
from tests.support.node_cluster import RealCluster

POLL_SECONDS = 0.5
MAX_IN_FLIGHT = 64  # the load's own bound on open requests
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Load:
    """`rate` requests per second for `seconds`, each at most REQUEST_TIMEOUT."""

    rate: float
    seconds: float

    @property
    def count(self) -> int:
        return int(self.rate * self.seconds)


@dataclass
class Timeline:
    """What the load got and when each part acted (seconds from the first request)."""

    load: Load
    marks: dict[str, float] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    max_replicas: int = 0
    max_ready: int = 0
    routed_after: float = 0.0  # seconds from the call until the Ingress first answered 200
    metric_values: list[tuple[float, str]] = field(default_factory=list)  # as the HPA saw it
    replicas: list[tuple[float, int, int]] = field(default_factory=list)  # (t, spec, ready)

    def mark(self, name: str, at: float) -> None:
        self.marks.setdefault(name, round(at, 1))

    def report(self) -> dict[str, Any]:
        return {
            "load": {
                "rate_per_second": self.load.rate,
                "seconds": self.load.seconds,
                "requests": self.load.count,
            },
            "ingress_answered_after_seconds": self.routed_after,
            "answers": dict(self.answers),
            "seconds_from_load_start": dict(sorted(self.marks.items(), key=lambda kv: kv[1])),
            "max_replicas": self.max_replicas,
            "max_ready_replicas": self.max_ready,
            "hpa_metric_values": [f"{at} s: {v}" for at, v in _thinned(self.metric_values)],
            "replicas_over_time": [
                f"{at} s: {spec} ({ready} ready)" for at, spec, ready in _changes(self.replicas)
            ],
        }


def _thinned(values: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Each change of the HPA's reading, once."""
    out: list[tuple[float, str]] = []
    for at, value in values:
        if not out or out[-1][1] != value:
            out.append((round(at, 1), value))
    return out


def _changes(rows: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    out: list[tuple[float, int, int]] = []
    for at, spec, ready in rows:
        if not out or out[-1][1:] != (spec, ready):
            out.append((round(at, 1), spec, ready))
    return out


class Api:
    """GETs against the tier's API server as the admin, without kubectl's start-up cost."""

    def __init__(self, cluster: RealCluster) -> None:
        self.server = cluster.cp.server
        self.context = ssl.create_default_context(
            cafile=str(cluster.cp.state_dir / "pki" / "ca.crt")
        )
        doc = yaml.safe_load(cluster.kubeconfig.read_text())
        self.token = str(doc["users"][0]["user"]["token"])

    def get(self, path: str) -> dict[str, Any] | None:
        status, body = http_json(f"{self.server}{path}", self.context, self.token)
        return body if status == 200 and isinstance(body, dict) else None


def predictor_hpa(api: Api, namespace: str, name: str) -> dict[str, Any] | None:
    selector = f"{names.ISVC_LABEL}={name},{names.COMPONENT_LABEL}={names.PREDICTOR}"
    found = api.get(
        f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"
        f"?labelSelector={selector}"
    )
    items = (found or {}).get("items") or []
    return items[0] if len(items) == 1 else None


def served_metric(api: Api, namespace: str, name: str, metric: str) -> list[str]:
    """The values the custom metrics API gives for the component's pods."""
    selector = f"{names.ISVC_LABEL}={name},{names.COMPONENT_LABEL}={names.PREDICTOR}"
    found = api.get(
        f"/apis/custom.metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/*/"
        f"{POD_METRICS[('model', metric)]}?labelSelector={selector}"
    )
    return [str(item.get("value")) for item in (found or {}).get("items") or []]


def hpa_reading(hpa: dict[str, Any]) -> str | None:
    for current in (hpa.get("status") or {}).get("currentMetrics") or []:
        value = ((current.get("pods") or {}).get("current") or {}).get("averageValue")
        if value is not None:
            return str(value)
    return None


async def _send_load(url: str, host: str, body: dict[str, Any], load: Load) -> Counter[str]:
    """`load.count` requests at `load.rate`, at most MAX_IN_FLIGHT open at once."""
    answers: Counter[str] = Counter()
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=16)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as client:

        async def one() -> None:
            try:
                reply = await client.post(url, json=body, headers={"Host": host})
                answers[str(reply.status_code)] += 1
            except httpx.HTTPError as error:
                answers[type(error).__name__] += 1
            finally:
                gate.release()

        started = time.monotonic()
        tasks = []
        for index in range(load.count):
            delay = started + index / load.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await gate.acquire()
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return answers


SLOW_MODEL_DIR = "iris-slow"  # under the models claim
SLOW_SECONDS = 0.2
SLOW_INSTANCES = 8


def concurrency_isvc(name: str) -> dict[str, Any]:
    """1 to 4 replicas on requests in flight, 1 per replica; its model answers in 0.2 s on 8
    threads, so 20 requests per second keep about 4 in flight."""
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 4,
                "scaleMetric": "concurrency",
                "scaleTarget": 1,
                "model": {
                    "modelFormat": {"name": "python"},
                    "storageUri": f"pvc://models/{SLOW_MODEL_DIR}",
                    "resources": {
                        "requests": {"cpu": real_tier.TEST_CPU_REQUEST, "memory": "64Mi"},
                        "limits": {"cpu": "1", "memory": "1Gi"},
                    },
                },
            }
        },
    }


def run(
    cluster: RealCluster,
    namespace: str,
    name: str,
    metric: str,
    body: dict[str, Any],
    load: Load,
    settle_timeout: float,
    minimum: int = 1,
) -> Timeline:
    """Once the InferenceService `name` answers through the Ingress, send `load` to it
    there while watching its HPA, then watch until its Deployment is back at `minimum`
    replicas (at most `settle_timeout` seconds after the load ends)."""
    api = Api(cluster)
    timeline = Timeline(load)
    path = f"/v2/models/{name}/infer"
    url = f"{cluster.ingress}{path}"
    host = names.host(name, namespace, real_tier.DOMAIN)
    timeline.routed_after = round(real_tier.wait_routed(cluster.ingress, host, path, body), 1)
    done = threading.Event()

    def drive() -> None:
        try:
            timeline.answers.update(asyncio.run(_send_load(url, host, body, load)))
        finally:
            done.set()

    sender = threading.Thread(target=drive, name="load", daemon=True)
    started = time.monotonic()
    sender.start()
    ended_at: float | None = None
    while True:
        now = time.monotonic() - started
        if done.is_set() and ended_at is None:
            ended_at = now
            timeline.mark("load_end", now)
        if ended_at is not None and now - ended_at > settle_timeout:
            break
        if served_metric(api, namespace, name, metric):
            timeline.mark("metric_served", now)
        hpa = predictor_hpa(api, namespace, name)
        if hpa is not None:
            reading = hpa_reading(hpa)
            if reading is not None:
                timeline.mark("hpa_saw_metric", now)
                timeline.metric_values.append((now, reading))
            if int((hpa.get("status") or {}).get("desiredReplicas") or 0) > 1:
                timeline.mark("scale_decision", now)
            target = hpa["spec"]["scaleTargetRef"]["name"]
            deployment = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{target}")
            if deployment is not None:
                spec = int(deployment["spec"].get("replicas") or 0)
                ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
                timeline.replicas.append((now, spec, ready))
                timeline.max_replicas = max(timeline.max_replicas, spec)
                timeline.max_ready = max(timeline.max_ready, ready)
                if spec > minimum:  # only the HPA sets it: its decision, if not seen yet
                    timeline.mark("scale_decision", now)
                    timeline.mark("deployment_scaled", now)
                if ready > minimum:
                    timeline.mark("replicas_ready", now)
                if ended_at is not None and timeline.max_replicas > minimum and spec <= minimum:
                    timeline.mark("back_to_min", now)
                    break
        time.sleep(POLL_SECONDS)
    sender.join(timeout=REQUEST_TIMEOUT + 5)
    return timeline
