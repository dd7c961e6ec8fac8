"""Every sample and default runtime parses, round-trips and fits its CRD; runtimes get picked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.api import (
    ClusterServingRuntime,
    InferenceGraph,
    InferenceService,
    NoRuntimeError,
    ServingRuntime,
    load_resources,
    parse_resource,
    select_runtime,
)
from modelplane.api.serving_runtime import GPU_IMAGE_ANNOTATION
from tests.unit.api.cases import CASES, Case
from tests.unit.api.schema_check import ROOT, problems

SAMPLES = sorted((ROOT / "manifests" / "samples").glob("*.yaml"))
RUNTIMES = sorted((ROOT / "manifests" / "runtimes").glob("modelplane-*.yaml"))


def _one_object(path: Path) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert len(docs) == 1, f"{path.name}: one object per file"
    obj: dict[str, Any] = docs[0]
    return obj


@pytest.mark.parametrize("path", SAMPLES + RUNTIMES, ids=lambda p: p.name)
def test_manifest_round_trips_and_fits_the_crd(path: Path) -> None:
    obj = _one_object(path)
    assert parse_resource(obj).to_dict() == obj
    assert problems(obj) == []


def test_samples_cover_every_kind_of_workload() -> None:
    objs = [parse_resource(_one_object(p)) for p in SAMPLES]
    services = [o for o in objs if isinstance(o, InferenceService)]
    graphs = [o for o in objs if isinstance(o, InferenceGraph)]
    limits = [
        set(s.spec.predictor.model.resources.limits)
        for s in services
        if s.spec.predictor.model and s.spec.predictor.model.resources
    ]
    assert {"nvidia.com/gpu"} <= set().union(*limits)
    assert {"nvidia.com/mig-1g.10gb"} <= set().union(*limits)
    formats = {s.spec.predictor.model.model_format.name for s in services if s.spec.predictor.model}
    assert formats == {"onnx", "pytorch", "python"}
    assert any(s.spec.predictor.containers for s in services)
    assert any(s.spec.transformer for s in services)
    assert any(s.spec.predictor.batcher for s in services)
    assert any(s.spec.predictor.scale_metric and s.spec.predictor.max_replicas for s in services)
    routers = {n.router_type for g in graphs for n in g.spec.nodes.values()}
    assert routers == {"Sequence", "Switch", "Ensemble", "Splitter"}
    names = {s.metadata.name for s in services}
    targets = {st.service_name for g in graphs for n in g.spec.nodes.values() for st in n.steps}
    assert targets <= names, targets - names


def _runtimes() -> list[ServingRuntime]:
    return [r for p in RUNTIMES for r in load_resources(p) if isinstance(r, ServingRuntime)]


def test_default_runtimes_serve_each_sample_model() -> None:
    runtimes = _runtimes()
    assert all(isinstance(r, ClusterServingRuntime) for r in runtimes)
    for path in SAMPLES:
        obj = parse_resource(_one_object(path))
        if isinstance(obj, InferenceService) and obj.spec.predictor.model:
            model = obj.spec.predictor.model
            chosen = select_runtime(model, runtimes)
            assert chosen.metadata.name == f"modelplane-{model.model_format.name}"


def test_runtime_images_cpu_and_gpu() -> None:
    for runtime in _runtimes():
        assert runtime.image(gpu=False) == "modelplane/model-server:0.1.0"
        assert runtime.image(gpu=True) == "modelplane/model-server-cuda:0.1.0"
        assert runtime.metadata.annotations[GPU_IMAGE_ANNOTATION] == runtime.image(gpu=True)
        args = runtime.spec.containers[0].args or []
        # a multi-model pool starts empty; every other runtime serves the one model it is for
        one_model = "--model-name={{.Name}}" in args
        assert args[0] == "serve" and one_model != bool(runtime.spec.multi_model)


@pytest.mark.parametrize("case", [c for c in CASES if c.layer == "schema"], ids=lambda c: c.id)
def test_invalid_object_breaks_the_generated_schema(case: Case) -> None:
    found = problems(case.body)
    assert any(path.startswith(case.dotted) for path, _ in found), (case.dotted, found)


def test_explicit_runtime_must_support_the_format() -> None:
    runtimes = _runtimes()
    body = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m"},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "onnx"}, "runtime": "modelplane-pytorch"}
            }
        },
    }
    isvc = parse_resource(body)
    assert isinstance(isvc, InferenceService) and isvc.spec.predictor.model
    with pytest.raises(NoRuntimeError, match="does not support model format 'onnx'"):
        select_runtime(isvc.spec.predictor.model, runtimes)
