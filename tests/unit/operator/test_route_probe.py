"""With an ingress probe: Ready waits until the ingress routes the host (route_probe and the
IngressReady it feeds), decided on what a probe function returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from modelplane.api import InferenceGraph, InferenceService
from modelplane.operator.config import OperatorConfig
from modelplane.operator.ingress_status import Route, ingress_condition
from modelplane.operator.kinds import ISVC
from modelplane.operator.reconcile import Reconciler
from modelplane.operator.route_probe import (
    FAST_RETRY_SECONDS,
    SLOW_RETRY_SECONDS,
    RouteProber,
    answers_probe,
)
from modelplane.operator.status import isvc_status
from tests.unit.operator.fake_kube import FakeKube
from tests.unit.operator.samples import ROOT

NOW = "2026-01-01T00:00:00Z"
BASE = "http://ingress.test:80"
CONFIG = OperatorConfig(ingress_domain="example.com", ingress_probe_url=BASE)
NOT_ROUTED = Route(False, "GET /v2/health/ready for h answered 404 '404 page not found'")
KEY = (ISVC, "default", "m")


def isvc(**spec: Any) -> InferenceService:
    body = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "default", "generation": 1},
        "spec": spec or {"predictor": {"model": {"modelFormat": {"name": "onnx"}}}},
    }
    return InferenceService.model_validate(body)


def ready_children() -> dict[tuple[str, str], Any]:
    available = {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}
    deployment = {
        "metadata": {"name": "m-predictor", "generation": 1},
        "spec": {"replicas": 1},
        "status": {"replicas": 1, "readyReplicas": 1, "conditions": [available]},
    }
    return {("Deployment", "m-predictor"): deployment, ("Ingress", "m"): {"status": {}}}


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}


class Probes:
    """A probe function answering from a list, recording what it was asked."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def __call__(self, base: str, host: str) -> Route:
        self.asked.append((base, host))
        return Route(True, "200") if self.answers.pop(0) else NOT_ROUTED


def test_a_host_not_routed_keeps_ingress_ready_and_ready_false_with_what_the_probe_got() -> None:
    routed = isvc_status(isvc(), ready_children(), CONFIG, NOW)
    assert conditions(routed)["Ready"] == ("True", None)
    status = isvc_status(isvc(), ready_children(), CONFIG, NOW, route=NOT_ROUTED)
    assert conditions(status)["IngressReady"] == ("False", "NotRouted")
    assert conditions(status)["Ready"] == ("False", "NotRouted")
    assert conditions(status)["Reconciling"] == ("True", "NotRouted")  # not Stalled: it comes
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert "404 page not found" in ready["message"]


def test_a_probe_never_hides_what_the_objects_say() -> None:
    missing = ingress_condition(isvc(), {}, CONFIG, NOT_ROUTED)
    assert (missing["status"], missing["reason"]) == ("False", "IngressMissing")
    routed = ingress_condition(isvc(), ready_children(), CONFIG, Route(True, "200"))
    assert (routed["status"], routed["reason"]) == ("True", "IngressCreated")


def test_the_prober_probes_a_ready_owner_until_routed_then_not_again() -> None:
    probes = Probes(False, True)
    clock = [100.0]
    prober = RouteProber(BASE + "/", probes, lambda: clock[0])
    status = isvc_status(isvc(), ready_children(), CONFIG, NOW)
    assert prober.check(KEY, status, True) == (NOT_ROUTED, FAST_RETRY_SECONDS)
    assert prober.check(KEY, status, True) == (None, None)
    assert prober.check(KEY, status, True) == (None, None)  # remembered: no third probe
    assert probes.asked == [(BASE, "m-default.example.com")] * 2


def test_a_route_that_does_not_come_is_looked_at_less_often() -> None:
    clock = [0.0]
    prober = RouteProber(BASE, Probes(False, False, False), lambda: clock[0])
    status = isvc_status(isvc(), ready_children(), CONFIG, NOW)
    assert prober.check(KEY, status, True)[1] == FAST_RETRY_SECONDS
    clock[0] = 29.0
    assert prober.check(KEY, status, True)[1] == FAST_RETRY_SECONDS
    clock[0] = 31.0
    assert prober.check(KEY, status, True)[1] == SLOW_RETRY_SECONDS


def test_an_owner_that_stops_being_ready_or_moves_host_is_probed_again() -> None:
    probes = Probes(True, True, True)
    prober = RouteProber(BASE, probes)
    ready = isvc_status(isvc(), ready_children(), CONFIG, NOW)
    prober.check(KEY, ready, True)
    unready = isvc_status(isvc(), {}, CONFIG, NOW)
    assert prober.check(KEY, unready, True) == (None, None)
    prober.check(KEY, ready, True)
    moved = {**ready, "url": "http://m-default.other.example"}
    prober.check(KEY, moved, True)
    assert [host for _, host in probes.asked] == [
        "m-default.example.com",
        "m-default.example.com",
        "m-default.other.example",
    ]


def test_no_probe_without_an_address_at_zero_or_for_an_entry_that_is_not_ours() -> None:
    status = isvc_status(isvc(), ready_children(), CONFIG, NOW)
    probes = Probes()
    assert RouteProber(None, probes).check(KEY, status, True) == (None, None)
    assert RouteProber(BASE, probes).check(KEY, status, False) == (None, None)
    at_zero = {
        **status,
        "conditions": [{"type": "Ready", "status": "True", "reason": "ScaledToZero"}],
    }
    assert RouteProber(BASE, probes).check(KEY, at_zero, True) == (None, None)
    assert probes.asked == []


def test_which_entries_answer_the_probe() -> None:
    assert answers_probe(isvc())
    custom = {"predictor": {"containers": [{"name": "c", "image": "c"}]}}
    assert not answers_probe(isvc(**custom))
    model = {"model": {"modelFormat": {"name": "onnx"}}}
    transformer = {"containers": [{"name": "t", "image": "t"}]}
    assert not answers_probe(isvc(predictor=model, transformer=transformer))
    graph = yaml.safe_load((ROOT / "manifests/samples/ig-sequence.yaml").read_text())
    assert answers_probe(InferenceGraph.model_validate(graph))


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"ingress_probe_url": BASE}, "needs ingressDomain"),
        ({"ingress_domain": "d.example", "ingress_probe_url": "traefik:80"}, "pattern"),
        ({"ingress_domain": "d.example", "ingress_probe_url": "http://t/path"}, "pattern"),
    ],
)
def test_a_probe_address_is_refused_when_it_cannot_work(values: dict[str, str], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        OperatorConfig(**values)  # type: ignore[arg-type]


def test_a_pass_says_not_routed_and_comes_back_until_the_ingress_routes_the_host() -> None:
    kube = FakeKube()
    for path in sorted((ROOT / "manifests" / "runtimes").glob("modelplane-*.yaml")):
        kube.put(yaml.safe_load(path.read_text()))
    kube.put(yaml.safe_load(Path(ROOT / "manifests/samples/isvc-onnx-cpu.yaml").read_text()))
    probes = Probes(False, True)
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, routes=RouteProber(BASE, probes))  # type: ignore[arg-type]
    key = (ISVC, "default", "iris-onnx")
    assert reconciler.run(key).retry_after is None  # not Ready yet: nothing to probe
    assert probes.asked == []
    (deployment,) = kube.list("Deployment", "default")
    deployment["status"] = {
        "replicas": 1,
        "readyReplicas": 1,
        "conditions": [{"type": "Available", "status": "True"}],
    }
    kube.put(deployment)
    assert reconciler.run(key).retry_after == FAST_RETRY_SECONDS
    stored = (kube.get(ISVC, "default", "iris-onnx") or {})["status"]
    assert conditions(stored)["IngressReady"] == ("False", "NotRouted")
    assert conditions(stored)["Ready"] == ("False", "NotRouted")
    assert reconciler.run(key).retry_after is None
    stored = (kube.get(ISVC, "default", "iris-onnx") or {})["status"]
    assert conditions(stored)["Ready"] == ("True", None)
    assert probes.asked == [(BASE, "iris-onnx-default.example.com")] * 2
