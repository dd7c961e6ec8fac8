"""Autoscaling on the request rate, on real pods: the `rps` sample goes from 1 replica to more
under bounded load through the Ingress, and back to 1 after it.

The node runs Prometheus (scraping the operator's pods) and prometheus-adapter with the chart's
adapter rules, registered as `v1beta1.custom.metrics.k8s.io` (tests/support/realnode.py); the
HPA the operator renders for `scaleMetric: rps` reads `modelplane_inference_requests_per_second`
from it. The sample (manifests/samples/isvc-autoscaled-rps.yaml: 5 requests per second per
replica, at most 4) gets 20 requests per second for 60 s, 1,200 in all.

Asserted: every request answered 200, replicas above 1 during the load, back to 1 after it
(the tier's HPA scales down after 30 s of lower readings). The timeline is printed (run with
-s); its figures come from `make bench-scale` (docs/control-plane.md), not from this test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from e2e import real_tier, sample_models, scale_under_load
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
def scaled(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The rps sample applied as a user would (after `helm install`), Ready; its name."""
    work = tmp_path_factory.mktemp("autoscale")
    models = sample_models.build(real_cluster.paths.state / "autoscale-models")
    real_tier.open_permissions(real_cluster.paths.state / "autoscale-models")
    real_tier.install(real_cluster, NAMESPACE, models.claim, work, "http://127.0.0.1:1")
    doc = real_tier.test_overlay(yaml.safe_load(SAMPLE.read_text()))
    name = str(doc["metadata"]["name"])
    real_cluster.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=json.dumps(doc))
    try:
        wait_for(
            lambda: (
                real_tier.ready_condition(
                    real_tier.listed(real_cluster, NAMESPACE).get(name, {})
                ).get("status")
                == "True"
            ),
            timeout=300,
            interval=1,
            message=f"{name} Ready",
        )
        yield name
    finally:
        real_cluster.kubectl("delete", "isvc", name, "-n", NAMESPACE, "--wait=false", check=False)


def test_rps_sample_scales_up_under_load_and_back_down(
    real_cluster: RealCluster, scaled: str
) -> None:
    timeline = scale_under_load.run(
        real_cluster, NAMESPACE, scaled, "rps", BODY, LOAD, SETTLE_SECONDS
    )
    report = timeline.report()
    print("\nrps-scaled sample under load:\n" + json.dumps(report, indent=2))
    assert timeline.answers == {"200": LOAD.count}, report
    assert timeline.max_replicas > 1, report
    assert "back_to_min" in timeline.marks, report
