"""Autoscaling on the request rate and on requests in flight, on real pods: each goes from 1
replica to more under bounded load through the Ingress, and back to 1 after it.

The node runs Prometheus (scraping the operator's pods) and prometheus-adapter with the chart's
adapter rules, registered as `v1beta1.custom.metrics.k8s.io` (tests/support/realnode.py); the
HPAs the operator renders for `scaleMetric: rps` and `concurrency` read
`modelplane_inference_requests_per_second` and `modelplane_inference_in_flight` from it.

- rps: the sample manifests/samples/isvc-autoscaled-rps.yaml (5 requests per second per
  replica, at most 4);
- concurrency: 1 request in flight per replica, at most 4, on a Python model that answers in
  0.2 s (e2e/scale_under_load.py).

Each gets 20 requests per second for 60 s, 1,200 in all. Asserted: every request answered
200, replicas above 1 during the load, back to 1 after it (the tier's HPA scales down after
30 s of lower readings). The timelines are printed (run with -s); the figures come from
`make bench-scale` (docs/control-plane.md), not from this test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from e2e import real_tier, sample_models, scale_under_load, tier_storage
from e2e.scale_under_load import Load
from tests.support.node_cluster import RealCluster
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.real, pytest.mark.timeout(900)]

NAMESPACE = "autoscale"
SAMPLE = real_tier.SAMPLES / "isvc-autoscaled-rps.yaml"
LOAD = Load(rate=20, seconds=60)
SETTLE_SECONDS = 180.0  # after the load: 30 s window, the rate's decay, the HPA's period
BODY = {
    "inputs": [
        {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}
    ]
}


@pytest.fixture(scope="module")
def installed(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> RealCluster:
    """The chart installed as a user would, and the models the two InferenceServices read."""
    work = tmp_path_factory.mktemp("autoscale")
    root = real_cluster.paths.state / "autoscale-models"
    models = sample_models.build(root)
    sample_models.slow_model(
        models.claim / scale_under_load.SLOW_MODEL_DIR,
        scale_under_load.SLOW_SECONDS,
        scale_under_load.SLOW_INSTANCES,
    )
    tier_storage.open_permissions(root)
    real_tier.install(real_cluster, NAMESPACE, models.claim, work, "http://127.0.0.1:1")
    return real_cluster


def applied(cluster: RealCluster, doc: dict[str, Any]) -> Iterator[str]:
    """Apply `doc`, wait for Ready, yield its name; delete it afterwards."""
    name = str(doc["metadata"]["name"])
    cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))
    try:
        wait_for(
            lambda: (
                real_tier.ready_condition(real_tier.listed(cluster, NAMESPACE).get(name, {})).get(
                    "status"
                )
                == "True"
            ),
            timeout=300,
            interval=1,
            message=f"{name} Ready",
        )
        yield name
    finally:
        cluster.kubectl("delete", "isvc", name, "-n", NAMESPACE, "--wait=false", check=False)


@pytest.fixture
def rps_sample(installed: RealCluster) -> Iterator[str]:
    yield from applied(installed, real_tier.test_overlay(yaml.safe_load(SAMPLE.read_text())))


@pytest.fixture
def concurrency_scaled(installed: RealCluster) -> Iterator[str]:
    yield from applied(installed, scale_under_load.concurrency_isvc("iris-inflight"))


def scales_up_and_back(cluster: RealCluster, name: str, metric: str) -> None:
    timeline = scale_under_load.run(cluster, NAMESPACE, name, metric, BODY, LOAD, SETTLE_SECONDS)
    report = timeline.report()
    print(f"\n{metric}-scaled {name} under load:\n" + json.dumps(report, indent=2))
    assert timeline.answers == {"200": LOAD.count}, report
    assert timeline.max_replicas > 1, report
    assert "back_to_min" in timeline.marks, report


def test_rps_sample_scales_up_under_load_and_back_down(
    installed: RealCluster, rps_sample: str
) -> None:
    scales_up_and_back(installed, rps_sample, "rps")


def test_concurrency_scaled_model_scales_up_under_load_and_back_down(
    installed: RealCluster, concurrency_scaled: str
) -> None:
    scales_up_and_back(installed, concurrency_scaled, "concurrency")
