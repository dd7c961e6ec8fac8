"""The typed models accept KServe-shaped objects and reject what the CRD rules reject."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from modelplane.api import (
    ClusterServingRuntime,
    InferenceGraph,
    InferenceService,
    UnknownKindError,
    parse_resource,
)

ISVC = "serving.modelplane.io/v1beta1"
IG = "serving.modelplane.io/v1alpha1"


def isvc(predictor: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": ISVC,
        "kind": "InferenceService",
        "metadata": {"name": "m"},
        "spec": {"predictor": predictor},
    }


def graph(nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": IG,
        "kind": "InferenceGraph",
        "metadata": {"name": "g"},
        "spec": {"nodes": nodes},
    }


MODEL = {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://models/m"}


def test_parse_dispatches_on_kind_and_round_trips() -> None:
    body = isvc({"model": MODEL, "minReplicas": 1, "maxReplicas": 3, "scaleMetric": "rps"})
    parsed = parse_resource(body)
    assert isinstance(parsed, InferenceService)
    assert parsed.spec.predictor.model is not None
    assert parsed.spec.predictor.model.storage_uri == "pvc://models/m"
    assert parsed.to_dict() == body


def test_snake_case_names_construct_the_same_object() -> None:
    built = InferenceService(
        metadata={"name": "m"},  # type: ignore[arg-type]
        spec={"predictor": {"model": MODEL, "min_replicas": 1}},  # type: ignore[arg-type]
    )
    assert built.to_dict()["spec"]["predictor"]["minReplicas"] == 1
    assert built.api_version == ISVC and built.kind == "InferenceService"


def test_unknown_kind_is_named() -> None:
    with pytest.raises(UnknownKindError, match=r"serving\.kserve\.io/v1beta1"):
        parse_resource({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService"})


def test_wrong_kind_for_class_is_rejected() -> None:
    with pytest.raises(ValidationError, match="kind must be"):
        ClusterServingRuntime.model_validate({"kind": "ServingRuntime", "spec": {}})


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("model and containers", isvc({"model": MODEL, "containers": [{"name": "c"}]}), "exactly one"),
    ("neither model nor containers", isvc({"minReplicas": 1}), "exactly one"),
    ("min above max", isvc({"model": MODEL, "minReplicas": 3, "maxReplicas": 2}), "minReplicas"),
    (
        "canary above 100",
        isvc({"model": MODEL, "canaryTrafficPercent": 101}),
        "canaryTrafficPercent",
    ),
    ("unknown field", isvc({"model": MODEL, "replicas": 2}), "replicas"),
    ("wrong type", isvc({"model": MODEL, "minReplicas": "two"}), "minReplicas"),
    ("bad storage uri", isvc({"model": {**MODEL, "storageUri": "ftp://x"}}), "storageUri"),
    ("bad scale metric", isvc({"model": MODEL, "scaleMetric": "gpu"}), "scaleMetric"),
    (
        "no root node",
        graph({"first": {"routerType": "Sequence", "steps": [{"serviceName": "a"}]}}),
        "root",
    ),
    (
        "step with two targets",
        graph(
            {
                "root": {
                    "routerType": "Sequence",
                    "steps": [{"serviceName": "a", "serviceUrl": "http://x"}],
                }
            }
        ),
        "exactly one of nodeName",
    ),
    (
        "splitter without weight",
        graph(
            {
                "root": {
                    "routerType": "Splitter",
                    "steps": [{"serviceName": "a", "weight": 100}, {"serviceName": "b"}],
                }
            }
        ),
        "needs a weight",
    ),
    (
        "splitter weights not 100",
        graph(
            {
                "root": {
                    "routerType": "Splitter",
                    "steps": [
                        {"serviceName": "a", "weight": 60},
                        {"serviceName": "b", "weight": 30},
                    ],
                }
            }
        ),
        "sum to 100",
    ),
    (
        "duplicate step names",
        graph(
            {
                "root": {
                    "routerType": "Ensemble",
                    "steps": [{"name": "x", "serviceName": "a"}, {"name": "x", "serviceName": "b"}],
                }
            }
        ),
        "unique",
    ),
    (
        "dangling nodeName",
        graph({"root": {"routerType": "Sequence", "steps": [{"nodeName": "missing"}]}}),
        "missing",
    ),
    (
        "unknown router type",
        graph({"root": {"routerType": "Random", "steps": [{"serviceName": "a"}]}}),
        "routerType",
    ),
]


@pytest.mark.parametrize(("case", "body", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_objects_are_rejected_naming_the_problem(
    case: str, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_resource(body)


def test_valid_graph_parses() -> None:
    body = graph(
        {
            "root": {"routerType": "Sequence", "steps": [{"nodeName": "split"}]},
            "split": {
                "routerType": "Splitter",
                "steps": [{"serviceName": "a", "weight": 70}, {"serviceName": "b", "weight": 30}],
            },
        }
    )
    parsed = parse_resource(body)
    assert isinstance(parsed, InferenceGraph)
    assert parsed.to_dict() == body
