"""select_runtime follows KServe's rules: explicit name, then auto-select by priority."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.api import (
    ClusterServingRuntime,
    ModelSpec,
    NoRuntimeError,
    ServingRuntime,
    select_runtime,
)

CONTAINERS = [{"name": "s", "image": "img"}]


def rt(
    name: str, formats: list[dict[str, Any]], cluster: bool = True, **spec: Any
) -> ServingRuntime:
    cls = ClusterServingRuntime if cluster else ServingRuntime
    return cls.model_validate(
        {
            "metadata": {"name": name},
            "spec": {"supportedModelFormats": formats, "containers": CONTAINERS, **spec},
        }
    )


def model(name: str = "onnx", **extra: Any) -> ModelSpec:
    return ModelSpec.model_validate({"modelFormat": {"name": name}, **extra})


def test_highest_priority_auto_select_wins() -> None:
    low = rt("low", [{"name": "onnx", "autoSelect": True, "priority": 1}])
    high = rt("high", [{"name": "onnx", "autoSelect": True, "priority": 5}])
    assert select_runtime(model(), [low, high]).metadata.name == "high"


def test_namespaced_runtime_beats_cluster_runtime_at_equal_priority() -> None:
    cluster = rt("a-cluster", [{"name": "onnx", "autoSelect": True}])
    local = rt("z-local", [{"name": "onnx", "autoSelect": True}], cluster=False)
    assert select_runtime(model(), [cluster, local]).metadata.name == "z-local"


def test_runtimes_without_auto_select_or_disabled_are_skipped() -> None:
    manual = rt("manual", [{"name": "onnx"}])
    off = rt("off", [{"name": "onnx", "autoSelect": True}], disabled=True)
    with pytest.raises(NoRuntimeError, match="no runtime auto-selects model format 'onnx'"):
        select_runtime(model(), [manual, off])
    assert select_runtime(model(runtime="manual"), [manual, off]).metadata.name == "manual"


def test_version_and_protocol_must_match() -> None:
    v1 = rt("v1", [{"name": "onnx", "version": "1", "autoSelect": True}])
    grpc_less = rt("rest", [{"name": "onnx", "autoSelect": True}], protocolVersions=["v2"])
    picked = select_runtime(model(modelFormat={"name": "onnx", "version": "1"}), [v1, grpc_less])
    assert picked.metadata.name == "v1"
    with pytest.raises(NoRuntimeError):
        select_runtime(model(modelFormat={"name": "onnx", "version": "2"}), [v1])
    with pytest.raises(NoRuntimeError, match="protocol 'grpc-v2'"):
        select_runtime(model(runtime="rest", protocolVersion="grpc-v2"), [grpc_less])


def test_explicit_runtime_prefers_namespaced_and_reports_missing() -> None:
    cluster = rt("same", [{"name": "onnx"}])
    local = rt("same", [{"name": "onnx"}], cluster=False)
    assert isinstance(select_runtime(model(runtime="same"), [cluster, local]), ServingRuntime)
    assert select_runtime(model(runtime="same"), [cluster, local]).KIND == "ServingRuntime"
    with pytest.raises(NoRuntimeError, match="runtime 'nope' not found"):
        select_runtime(model(runtime="nope"), [cluster])
