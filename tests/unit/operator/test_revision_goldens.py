"""Revisions and routes render to exactly their golden files: one revision, a canary split,
a promotion, a rollback, in Gateway mode and in Ingress mode, and a graph on the Gateway.

Regenerate after an intended change with MODELPLANE_UPDATE_GOLDENS=1 and review the diff.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.api import InferenceGraph, InferenceService, select_runtime
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.graph import (
    render_inference_graph,
    resolve_graph,
    service_names,
)
from modelplane.operator.render.isvc import predictor_revision, render_inference_service
from modelplane.operator.traffic import TrafficPlan, plan_traffic
from modelplane.router.graph import load as load_graph
from tests.unit.operator.samples import CONFIG, ROOT, runtimes, stored

GOLDENS = Path(__file__).parent / "goldens" / "revisions"
GATEWAY = OperatorConfig(
    ingress_domain="models.example.com",
    gateway={"name": "shared", "namespace": "gateway-system"},  # type: ignore[arg-type]
)
Obj = dict[str, Any]


def sample(name: str) -> Obj:
    loaded: Obj = yaml.safe_load((ROOT / "manifests" / "samples" / f"{name}.yaml").read_text())
    return loaded


def isvc(body: Obj) -> InferenceService:
    return stored(InferenceService.model_validate(body))  # type: ignore[no-any-return]


def revision_of(body: Obj, config: OperatorConfig) -> str:
    resource = isvc(body)
    model = resource.spec.predictor.model
    assert model is not None
    return predictor_revision(resource, select_runtime(model, runtimes()), config)[0]


def stable_and_canary(percent: int | None) -> tuple[Obj, Obj]:
    """iris-onnx as first rolled out, and with another model and canaryTrafficPercent."""
    stable = sample("isvc-onnx-cpu")
    canary = copy.deepcopy(stable)
    canary["spec"]["predictor"]["model"]["storageUri"] = "pvc://models/iris-onnx-v2"
    if percent is not None:
        canary["spec"]["predictor"]["canaryTrafficPercent"] = percent
    return stable, canary


def render(body: Obj, config: OperatorConfig, plan: TrafficPlan | None) -> list[Obj]:
    resource = isvc(body)
    model = resource.spec.predictor.model
    runtime = select_runtime(model, runtimes()) if model is not None else None
    return render_inference_service(resource, runtime, config, plan)


def canary_case(percent: int | None, config: OperatorConfig, promoted: bool = False) -> list[Obj]:
    stable, canary = stable_and_canary(percent)
    old, new = revision_of(stable, config), revision_of(canary, config)
    plan = plan_traffic(new, percent, old, None, {old: True, new: True})
    if promoted:  # the pass after the promotion: the old revision is gone
        plan = plan_traffic(new, percent, plan.rolled_out, plan.previous, {old: True, new: True})
    return render(canary, config, plan)


def graph_on_gateway() -> list[Obj]:
    graph: InferenceGraph = stored(InferenceGraph.model_validate(sample("ig-splitter")))
    urls = {n: f"http://{n}-predictor.default.svc.cluster.local" for n in service_names(graph)}
    return render_inference_graph(graph, resolve_graph(graph, urls), GATEWAY)


CASES = {
    "gateway-one-revision": lambda: render(sample("isvc-onnx-cpu"), GATEWAY, None),
    "gateway-canary-20": lambda: canary_case(20, GATEWAY),
    "gateway-promotion": lambda: canary_case(None, GATEWAY),
    "gateway-promoted": lambda: canary_case(None, GATEWAY, promoted=True),
    "gateway-rollback": lambda: canary_case(0, GATEWAY),
    "gateway-transformer": lambda: render(sample("isvc-transformer"), GATEWAY, None),
    "gateway-graph": graph_on_gateway,
    "ingress-canary-20": lambda: canary_case(20, CONFIG),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_renders_its_golden(case: str) -> None:
    text = yaml.safe_dump_all(CASES[case](), sort_keys=False)
    golden = GOLDENS / f"{case}.yaml"
    if os.environ.get("MODELPLANE_UPDATE_GOLDENS") == "1":
        GOLDENS.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing golden {golden.name}; run with MODELPLANE_UPDATE_GOLDENS=1"
    assert text == golden.read_text()


def test_every_golden_has_a_case() -> None:
    assert {p.stem for p in GOLDENS.glob("*.yaml")} == set(CASES)


def route_weights(objects: list[Obj]) -> dict[str, int]:
    (route,) = [o for o in objects if o["kind"] == "HTTPRoute"]
    return {r["name"]: r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]}


def test_the_canary_split_weighs_the_two_revision_services() -> None:
    stable, canary = stable_and_canary(20)
    old, new = revision_of(stable, GATEWAY), revision_of(canary, GATEWAY)
    objects = canary_case(20, GATEWAY)
    assert route_weights(objects) == {old: 80, new: 20}
    assert not [o for o in objects if o["kind"] == "Ingress"]
    # only the latest revision is rendered; the old one keeps its live objects
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"} == {new}


def test_rollback_and_promotion_route_everything_to_one_revision() -> None:
    stable, canary = stable_and_canary(None)
    old, new = revision_of(stable, GATEWAY), revision_of(canary, GATEWAY)
    assert route_weights(canary_case(0, GATEWAY)) == {old: 100}
    assert route_weights(canary_case(None, GATEWAY)) == {new: 100}


def test_ingress_mode_renders_no_httproute_and_one_ingress_to_the_component() -> None:
    objects = canary_case(20, CONFIG)
    assert not [o for o in objects if o["kind"] == "HTTPRoute"]
    (ingress,) = [o for o in objects if o["kind"] == "Ingress"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "iris-onnx-predictor"  # the component's Service: every revision


def test_a_pod_template_change_is_a_new_revision_and_a_scaling_change_is_not() -> None:
    body = sample("isvc-onnx-cpu")
    first = revision_of(body, CONFIG)
    scaled = copy.deepcopy(body)
    scaled["spec"]["predictor"]["maxReplicas"] = 4
    assert revision_of(scaled, CONFIG) == first
    canaried = copy.deepcopy(body)
    canaried["spec"]["predictor"]["canaryTrafficPercent"] = 10
    assert revision_of(canaried, CONFIG) == first
    changed = copy.deepcopy(body)
    changed["spec"]["predictor"]["model"]["env"] = [{"name": "X", "value": "1"}]
    assert revision_of(changed, CONFIG) != first
    changed["spec"]["predictor"]["model"]["env"] = []
    assert revision_of(changed, CONFIG) == first  # the same template again, the same name


def test_a_graph_step_naming_a_split_service_goes_through_a_weighted_splitter_node() -> None:
    graph = InferenceGraph.model_validate(sample("ig-sequence"))
    first = service_names(graph)[0]
    split = [("http://a.default.svc.cluster.local", 80), ("http://b.default.svc.cluster.local", 20)]
    urls = {n: f"http://{n}-predictor.default.svc.cluster.local" for n in service_names(graph)}
    resolved = resolve_graph(graph, urls, splits={first: split})
    node = resolved["nodes"][f"{first}-revisions"]
    assert node == {
        "routerType": "Splitter",
        "steps": [
            {
                "serviceUrl": f"http://a.default.svc.cluster.local/v2/models/{first}/infer",
                "weight": 80,
            },
            {
                "serviceUrl": f"http://b.default.svc.cluster.local/v2/models/{first}/infer",
                "weight": 20,
            },
        ],
    }
    callers = [
        step
        for name, n in resolved["nodes"].items()
        if name != f"{first}-revisions"
        for step in n["steps"]
        if step.get("nodeName") == f"{first}-revisions"
    ]
    assert len(callers) == 1 and "serviceUrl" not in callers[0]
    # the router itself accepts the resolved graph (its own checks: node refs, weights)
    loaded = load_graph(resolved)
    assert loaded.nodes[f"{first}-revisions"].router_type == "Splitter"
    # revisions are interchangeable: one that cannot be reached hands over to another
    assert resolved["failover"] == [f"{first}-revisions"]
    assert loaded.nodes[f"{first}-revisions"].failover
    assert "failover" not in resolve_graph(graph, urls)


def test_a_split_service_called_over_grpc_is_split_over_its_revisions_grpc_ports() -> None:
    graph = InferenceGraph.model_validate(
        {**sample("ig-sequence"), "spec": {**sample("ig-sequence")["spec"], "protocol": "grpc"}}
    )
    first = service_names(graph)[0]
    split = [("http://a.default.svc.cluster.local", 30), ("http://b.default.svc.cluster.local", 70)]
    urls = {n: f"http://{n}-predictor.default.svc.cluster.local" for n in service_names(graph)}
    grpc = {n: f"{n}-predictor.default.svc.cluster.local:8081" for n in service_names(graph)}
    resolved = resolve_graph(graph, urls, grpc, splits={first: split})
    assert [s["serviceUrl"] for s in resolved["nodes"][f"{first}-revisions"]["steps"]] == [
        f"grpc://a.default.svc.cluster.local:8081/v2/models/{first}",
        f"grpc://b.default.svc.cluster.local:8081/v2/models/{first}",
    ]
    assert load_graph(resolved).nodes[f"{first}-revisions"].router_type == "Splitter"
