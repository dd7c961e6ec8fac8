"""Runtime selection outcomes and the status reason each failure carries."""

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


def runtime(
    name: str, formats: list[dict[str, Any]], namespaced: bool = False, **spec: Any
) -> ServingRuntime:
    cls = ServingRuntime if namespaced else ClusterServingRuntime
    return cls.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "supportedModelFormats": formats,
                "containers": [{"name": "c", "image": name}],
                **spec,
            },
        }
    )


RUNTIMES = [
    runtime("onnx-low", [{"name": "onnx", "autoSelect": True, "priority": 1}]),
    runtime("onnx-high", [{"name": "onnx", "autoSelect": True, "priority": 5}]),
    runtime("onnx-ns", [{"name": "onnx", "autoSelect": True, "priority": 5}], namespaced=True),
    runtime("torch-manual", [{"name": "pytorch"}]),
    runtime("off", [{"name": "onnx", "autoSelect": True, "priority": 9}], disabled=True),
    runtime("rest-only", [{"name": "python", "autoSelect": True}], protocolVersions=["v2"]),
]


def model(**fields: Any) -> ModelSpec:
    return ModelSpec.model_validate({"modelFormat": {"name": "onnx"}, **fields})


@pytest.mark.parametrize(
    ("fields", "picked"),
    [
        ({}, "onnx-ns"),  # highest priority; namespaced wins the tie
        ({"runtime": "onnx-low"}, "onnx-low"),
        ({"modelFormat": {"name": "pytorch"}, "runtime": "torch-manual"}, "torch-manual"),
        ({"modelFormat": {"name": "python"}}, "rest-only"),
    ],
)
def test_selected(fields: dict[str, Any], picked: str) -> None:
    assert select_runtime(model(**fields), RUNTIMES).metadata.name == picked


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"runtime": "nope"}, "RuntimeNotRecognized"),
        ({"runtime": "off"}, "RuntimeDisabled"),
        ({"runtime": "torch-manual"}, "NoSupportingRuntime"),
        ({"modelFormat": {"name": "pytorch"}}, "NoSupportingRuntime"),  # none auto-selects
        ({"modelFormat": {"name": "tensorflow"}}, "NoSupportingRuntime"),
        ({"modelFormat": {"name": "python"}, "protocolVersion": "grpc-v2"}, "NoSupportingRuntime"),
    ],
)
def test_failure_reason(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(NoRuntimeError) as caught:
        select_runtime(model(**fields), RUNTIMES)
    assert caught.value.reason == reason
