"""Reconcile passes against an in-memory API server, as a table (Knative's shape).

Each row sets up the world, runs one pass, and states the writes the pass made (in order),
the condition it reported and what it asked of the queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.operator.kinds import GRAPH, ISVC
from modelplane.operator.kube import KubeError
from modelplane.operator.reconcile import Key, PassResult, Reconciler
from tests.unit.operator.fake_kube import FakeKube
from tests.unit.operator.samples import CONFIG, ROOT, render_sample

NOW = "2026-01-01T00:00:00Z"
Obj = dict[str, Any]


def load(path: Path) -> Obj:
    loaded: Obj = yaml.safe_load(path.read_text())
    return loaded


def world(*samples: str, runtimes: bool = True) -> FakeKube:
    """The default ClusterServingRuntimes and some samples, as stored objects."""
    kube = FakeKube()
    if runtimes:
        for path in sorted((ROOT / "manifests" / "runtimes").glob("modelplane-*.yaml")):
            kube.put(load(path))
    for sample in samples:
        kube.put(load(ROOT / "manifests" / "samples" / sample))
    return kube


def reconciler(kube: FakeKube) -> Reconciler:
    return Reconciler(kube, CONFIG, clock=lambda: NOW)  # type: ignore[arg-type]


def condition(kube: FakeKube, kind: str, name: str, type_: str) -> tuple[str, str, str]:
    """(status, reason, message) of one condition of a stored object."""
    obj = kube.get(kind, "default", name) or {}
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            return cond["status"], cond["reason"], cond.get("message", "")
    raise AssertionError(f"{kind} {name} has no {type_} condition")


def edit_spec(kube: FakeKube, kind: str, name: str, change: Callable[[Obj], None]) -> None:
    obj = kube.get(kind, "default", name)
    assert obj is not None
    change(obj["spec"])
    obj["metadata"]["generation"] += 1
    kube.put(obj)


def serving(kube: FakeKube, name: str) -> None:
    """Mark a stored InferenceService Ready with an address (as its own pass would)."""
    obj = kube.get(ISVC, "default", name)
    assert obj is not None
    obj["status"] = {
        "address": {"url": f"http://{name}-predictor.default.svc.cluster.local"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
    }
    kube.put(obj)


def after_one_pass(kube: FakeKube, key: Key) -> FakeKube:
    """The world once a first pass has run (its writes forgotten)."""
    reconciler(kube).run(key)
    kube.writes.clear()
    return kube


def revision_of(sample: str) -> str:
    """The predictor revision a sample renders (its Deployment's name)."""
    (found,) = [
        o["metadata"]["name"]
        for o in render_sample(ROOT / "manifests" / "samples" / sample)
        if o["kind"] == "Deployment"
    ]
    return str(found)


ONNX_REV = revision_of("isvc-onnx-cpu.yaml")
SCALED_REV = revision_of("isvc-autoscaled.yaml")


def single_replica(spec: Obj) -> None:
    spec["predictor"]["maxReplicas"] = 1


ONNX = (ISVC, "default", "iris-onnx")
SCALED = (ISVC, "default", "iris-autoscaled")
PIPELINE = (GRAPH, "default", "iris-pipeline")


def scaled_then_single() -> FakeKube:
    kube = after_one_pass(world("isvc-autoscaled.yaml"), SCALED)
    edit_spec(kube, ISVC, "iris-autoscaled", single_replica)
    return kube


def scaled_then_single_refused(status: int) -> FakeKube:
    kube = scaled_then_single()
    kube.refuse[("Deployment", SCALED_REV)] = status
    return kube


def foreign_hpa() -> FakeKube:
    """An HPA carrying iris-onnx's labels but owned by something else."""
    kube = world("isvc-onnx-cpu.yaml")
    labels = {
        "app.kubernetes.io/managed-by": "modelplane",
        "serving.modelplane.io/inferenceservice": "iris-onnx",
    }
    kube.put(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {
                "name": "iris-onnx-other",
                "labels": labels,
                "ownerReferences": [{"kind": "Something", "name": "x", "uid": "someone-else"}],
            },
            "spec": {},
        }
    )
    return kube


def both_services(ready: bool) -> FakeKube:
    kube = world("ig-sequence.yaml", "isvc-onnx-cpu.yaml", "isvc-python-custom.yaml")
    if ready:
        serving(kube, "iris-onnx")
        serving(kube, "iris-labels")
    return kube


def one_service_failing() -> FakeKube:
    kube = both_services(ready=False)
    serving(kube, "iris-onnx")
    labels = kube.get(ISVC, "default", "iris-labels")
    assert labels is not None
    labels["status"] = {
        "conditions": [{"type": "Ready", "status": "False", "reason": "ModelLoadFailed"}]
    }
    kube.put(labels)
    return kube


def invalid_isvc() -> FakeKube:
    kube = world()
    kube.put(
        {
            "apiVersion": "serving.modelplane.io/v1beta1",
            "kind": ISVC,
            "metadata": {"name": "iris-onnx"},
            "spec": {"predictor": {"minReplicas": "many"}},
        }
    )
    return kube


def unparsable_condition() -> FakeKube:
    """Both services ready; the graph's first step has a condition that does not parse."""
    kube = both_services(ready=True)
    edit_spec(
        kube,
        GRAPH,
        "iris-pipeline",
        lambda spec: spec["nodes"]["root"]["steps"][0].update(condition="outputs.0 >"),
    )
    return kube


def runtime_removed() -> FakeKube:
    kube = after_one_pass(world("isvc-onnx-cpu.yaml"), ONNX)
    for name in list(kube.of_kind("ClusterServingRuntime")):
        kube.delete("ClusterServingRuntime", None, name)
    kube.writes.clear()
    return kube


@dataclass
class Row:
    name: str
    setup: Callable[[], FakeKube]
    key: Key
    writes: list[tuple[str, str, str]]
    condition: tuple[str, str, str, str] | None = None  # (kind, name, type, reason)
    message: str = ""  # contained in that condition's message
    result: PassResult = field(default_factory=PassResult)
    survivors: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) still there


ROWS = [
    Row(
        "a new InferenceService gets its children, then a status",
        lambda: world("isvc-onnx-cpu.yaml"),
        ONNX,
        [
            ("apply", "Deployment", ONNX_REV),
            ("apply", "Service", ONNX_REV),
            ("apply", "Service", "iris-onnx-predictor"),
            ("apply", "Ingress", "iris-onnx"),
            ("status", ISVC, "iris-onnx"),
        ],
        (ISVC, "iris-onnx", "PredictorReady", "DeploymentPending"),
    ),
    Row(
        "a status change follows up the graphs that name the InferenceService",
        lambda: world("isvc-onnx-cpu.yaml", "ig-sequence.yaml"),
        ONNX,
        [
            ("apply", "Deployment", ONNX_REV),
            ("apply", "Service", ONNX_REV),
            ("apply", "Service", "iris-onnx-predictor"),
            ("apply", "Ingress", "iris-onnx"),
            ("status", ISVC, "iris-onnx"),
        ],
        result=PassResult(follow_up=[PIPELINE]),
    ),
    Row(
        "a child no longer rendered is pruned",
        scaled_then_single,
        SCALED,
        [
            ("apply", "Deployment", SCALED_REV),
            ("apply", "Service", SCALED_REV),
            ("apply", "Service", "iris-autoscaled-predictor"),
            ("apply", "Ingress", "iris-autoscaled"),
            ("delete", "HorizontalPodAutoscaler", SCALED_REV),
            ("status", ISVC, "iris-autoscaled"),  # a new observedGeneration
        ],
    ),
    Row(
        "a labelled child that another owner holds is never pruned",
        foreign_hpa,
        ONNX,
        [
            ("apply", "Deployment", ONNX_REV),
            ("apply", "Service", ONNX_REV),
            ("apply", "Service", "iris-onnx-predictor"),
            ("apply", "Ingress", "iris-onnx"),
            ("status", ISVC, "iris-onnx"),
        ],
        survivors=[("HorizontalPodAutoscaler", "iris-onnx-other")],
    ),
    Row(
        "a refused child is ApplyRejected in the status, and nothing is pruned",
        lambda: scaled_then_single_refused(422),
        SCALED,
        [("status", ISVC, "iris-autoscaled")],
        (ISVC, "iris-autoscaled", "PredictorReady", "ApplyRejected"),
        f"Deployment {SCALED_REV}: refused",
        survivors=[("HorizontalPodAutoscaler", SCALED_REV)],
    ),
    Row(
        "a forbidden child is ApplyForbidden in the status",
        lambda: scaled_then_single_refused(403),
        SCALED,
        [("status", ISVC, "iris-autoscaled")],
        (ISVC, "iris-autoscaled", "Ready", "ApplyForbidden"),
        f"PredictorReady: Deployment {SCALED_REV}: refused",
    ),
    Row(
        "without a runtime nothing is applied or pruned, and the status says why",
        runtime_removed,
        ONNX,
        [("status", ISVC, "iris-onnx")],
        (ISVC, "iris-onnx", "PredictorReady", "NoSupportingRuntime"),
        survivors=[("Deployment", ONNX_REV), ("Service", "iris-onnx-predictor")],
    ),
    Row(
        "an InferenceService that does not parse is InvalidSpec, nothing applied",
        invalid_isvc,
        ONNX,
        [("status", ISVC, "iris-onnx")],
        (ISVC, "iris-onnx", "Ready", "InvalidSpec"),
        "minReplicas",
    ),
    Row(
        "a deleted InferenceService: nothing to do",
        world,
        ONNX,
        [],
    ),
    Row(
        "a graph whose InferenceService is missing waits, and looks again later",
        lambda: world("ig-sequence.yaml", "isvc-onnx-cpu.yaml"),
        PIPELINE,
        [("status", GRAPH, "iris-pipeline")],
        (GRAPH, "iris-pipeline", "DependenciesReady", "DependencyNotFound"),
        "iris-labels",
        PassResult(retry_after=CONFIG.dependency_retry_seconds),
    ),
    Row(
        "a graph whose InferenceServices are not ready yet waits too",
        lambda: both_services(ready=False),
        PIPELINE,
        [("status", GRAPH, "iris-pipeline")],
        (GRAPH, "iris-pipeline", "RouterReady", "WaitingForDependencies"),
        result=PassResult(retry_after=CONFIG.dependency_retry_seconds),
    ),
    Row(
        "a graph names each step that is not ready with that step's own reason",
        one_service_failing,
        PIPELINE,
        [("status", GRAPH, "iris-pipeline")],
        (GRAPH, "iris-pipeline", "DependenciesReady", "DependencyNotReady"),
        "not ready: iris-labels (ModelLoadFailed)",
        PassResult(retry_after=CONFIG.dependency_retry_seconds),
    ),
    Row(
        "a graph whose InferenceServices are ready gets its router",
        lambda: both_services(ready=True),
        PIPELINE,
        [
            ("apply", "ConfigMap", "iris-pipeline-graph"),
            ("apply", "Deployment", "iris-pipeline-router"),
            ("apply", "Service", "iris-pipeline-router"),
            ("apply", "Ingress", "iris-pipeline"),
            ("status", GRAPH, "iris-pipeline"),
        ],
        (GRAPH, "iris-pipeline", "DependenciesReady", "AllDependenciesReady"),
    ),
    Row(  # not a router that exits at start and crash-loops
        "a graph whose condition does not parse is InvalidSpec, saying where; nothing applied",
        unparsable_condition,
        PIPELINE,
        [("status", GRAPH, "iris-pipeline")],
        (GRAPH, "iris-pipeline", "Ready", "InvalidSpec"),
        "invalid condition 'outputs.0 >': unexpected end of condition at 11",
    ),
]


def grpc_graph(transformer: bool) -> FakeKube:
    """Both services ready; the graph asks for gRPC; iris-labels has a transformer if asked."""
    kube = both_services(ready=True)
    edit_spec(kube, GRAPH, "iris-pipeline", lambda spec: spec.update(protocol="grpc"))
    if transformer:
        labels = kube.get(ISVC, "default", "iris-labels")
        assert labels is not None
        labels["spec"]["transformer"] = {"containers": [{"name": "t", "image": "t:1"}]}
        kube.put(labels)
    return kube


def test_a_grpc_graph_calls_its_predictors_on_their_grpc_port() -> None:
    kube = grpc_graph(transformer=False)
    reconciler(kube).run(PIPELINE)
    config_map = kube.get("ConfigMap", "default", "iris-pipeline-graph")
    assert config_map is not None
    steps = json.loads(config_map["data"]["graph.json"])["nodes"]["root"]["steps"]
    assert [s["serviceUrl"] for s in steps] == [
        "grpc://iris-onnx-predictor.default.svc.cluster.local:8081/v2/models/iris-onnx",
        "grpc://iris-labels-predictor.default.svc.cluster.local:8081/v2/models/iris-labels",
    ]


def test_a_grpc_graph_over_a_transformer_is_refused_with_the_reason() -> None:
    kube = grpc_graph(transformer=True)
    result = reconciler(kube).run(PIPELINE)
    assert kube.get("ConfigMap", "default", "iris-pipeline-graph") is None
    _, reason, message = condition(kube, GRAPH, "iris-pipeline", "DependenciesReady")
    assert reason == "GrpcUnavailable" and "iris-labels does not serve it" in message
    assert result == PassResult(retry_after=CONFIG.dependency_retry_seconds)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_pass(row: Row) -> None:
    kube = row.setup()
    result = reconciler(kube).run(row.key)
    assert [(verb, kind, name) for verb, kind, name in kube.writes] == row.writes
    assert result == row.result
    if row.condition is not None:
        kind, name, type_, reason = row.condition
        _, found_reason, message = condition(kube, kind, name, type_)
        assert found_reason == reason
        assert row.message in message
    for kind, name in row.survivors:
        assert kube.get(kind, "default", name) is not None, f"{kind} {name} was deleted"


def test_an_unchanged_status_is_not_written_again() -> None:
    kube = after_one_pass(world("isvc-onnx-cpu.yaml", "ig-sequence.yaml"), ONNX)
    result = reconciler(kube).run(ONNX)
    assert kube.written("status") == []
    assert result == PassResult()  # nothing changed: no graph needs another look


def test_a_better_runtime_appearing_is_selected_on_the_next_pass() -> None:
    kube = after_one_pass(world("isvc-onnx-cpu.yaml"), ONNX)
    first = kube.get("Deployment", "default", ONNX_REV) or {}
    assert first["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "modelplane/model-server:0.1.0"
    )
    better = load(ROOT / "manifests" / "runtimes" / "modelplane-onnx.yaml")
    better["metadata"] = {"name": "faster-onnx"}
    better["spec"]["supportedModelFormats"][0]["priority"] = 10
    better["spec"]["containers"][0]["image"] = "example.com/faster:1"
    kube.put(better)
    reconciler(kube).run(ONNX)
    predictor = (kube.get(ISVC, "default", "iris-onnx") or {})["status"]["components"]["predictor"]
    latest = predictor["latestCreatedRevision"]
    assert latest != ONNX_REV  # another pod template is another revision
    again = kube.get("Deployment", "default", latest) or {}
    assert again["spec"]["template"]["spec"]["containers"][0]["image"] == "example.com/faster:1"
    # the first revision serves on until the new one is ready
    assert predictor["latestRolledoutRevision"] == ONNX_REV
    assert kube.get("Deployment", "default", ONNX_REV) is not None


def test_an_api_error_that_is_not_a_refusal_fails_the_pass_for_a_retry() -> None:
    kube = world("isvc-onnx-cpu.yaml")
    kube.refuse[("Service", "iris-onnx-predictor")] = 500
    with pytest.raises(KubeError):
        reconciler(kube).run(ONNX)
    assert kube.written("status") == []


def test_a_deployment_from_before_revisions_serves_until_the_first_revision_is_ready() -> None:
    kube = world("isvc-onnx-cpu.yaml")
    owner = kube.get(ISVC, "default", "iris-onnx") or {}
    labels = {
        "app.kubernetes.io/managed-by": "modelplane",
        "serving.modelplane.io/inferenceservice": "iris-onnx",
        "serving.modelplane.io/component": "predictor",
    }
    kube.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "iris-onnx-predictor",
                "labels": labels,
                "ownerReferences": [
                    {"kind": ISVC, "name": "iris-onnx", "uid": owner["metadata"]["uid"]}
                ],
            },
            "spec": {},
            "status": {
                "replicas": 1,
                "readyReplicas": 1,
                "conditions": [{"type": "Available", "status": "True"}],
            },
        }
    )
    reconciler(kube).run(ONNX)
    assert kube.get("Deployment", "default", "iris-onnx-predictor") is not None  # still serving
    assert ("apply", "Deployment", ONNX_REV) in kube.writes
    predictor = (kube.get(ISVC, "default", "iris-onnx") or {})["status"]["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == "iris-onnx-predictor"
    assert condition(kube, ISVC, "iris-onnx", "PredictorReady")[0] == "True"
    # the first revision ready: it takes the traffic, and the next pass retires the old one
    revision = kube.get("Deployment", "default", ONNX_REV) or {}
    revision["status"] = {
        "replicas": 1,
        "readyReplicas": 1,
        "conditions": [{"type": "Available", "status": "True"}],
    }
    kube.put(revision)
    reconciler(kube).run(ONNX)
    reconciler(kube).run(ONNX)
    assert kube.get("Deployment", "default", "iris-onnx-predictor") is None
    predictor = (kube.get(ISVC, "default", "iris-onnx") or {})["status"]["components"]["predictor"]
    assert (predictor["latestRolledoutRevision"], predictor["previousRolledoutRevision"]) == (
        ONNX_REV,
        "iris-onnx-predictor",
    )
