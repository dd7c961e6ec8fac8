"""The typed models accept KServe-shaped objects and reject what the CRD rules reject."""

from __future__ import annotations

import re
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
from tests.unit.api.cases import CASES, MODEL, Case, graph, isvc, root
from tests.unit.api.schema_check import problems


def test_parse_dispatches_on_kind_and_round_trips() -> None:
    body = isvc({"model": MODEL, "minReplicas": 1, "maxReplicas": 3, "scaleMetric": "memory"})
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
    assert built.api_version == "serving.modelplane.io/v1beta1"
    assert built.kind == "InferenceService"


def test_unknown_kind_is_named() -> None:
    with pytest.raises(UnknownKindError, match=r"serving\.kserve\.io/v1beta1"):
        parse_resource({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService"})


def test_wrong_kind_for_class_is_rejected() -> None:
    with pytest.raises(ValidationError, match="kind must be"):
        ClusterServingRuntime.model_validate({"kind": "ServingRuntime", "spec": {}})


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_objects_are_rejected_naming_the_field(case: Case) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_resource(case.body)
    errors = caught.value.errors()
    if case.message is None:
        locations = [_dotted(e) for e in errors]
        assert any(loc.startswith(case.dotted) for loc in locations), (case.dotted, locations)
    else:
        # a cross-field rule fails on the object carrying it, with the rule's message
        assert any(
            case.dotted.startswith(_dotted(e)) and re.search(case.message, e["msg"]) for e in errors
        ), (case.dotted, errors)


def _dotted(error: Any) -> str:
    return ".".join(str(p) for p in error["loc"])


def test_valid_graph_parses_and_round_trips() -> None:
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


def test_step_extensions_parse_and_round_trip() -> None:
    step = {"serviceName": "b", "timeout": 2.5, "retries": 3, "mapping": {"y": "x", "a.z": "w"}}
    body = graph(root("Sequence", {"serviceName": "a", "timeout": 1}, step))
    parsed = parse_resource(body)
    assert isinstance(parsed, InferenceGraph)
    first, second = parsed.spec.nodes["root"].steps
    assert first.timeout == 1.0 and first.retries is None and first.mapping is None
    assert (second.timeout, second.retries, second.mapping) == (2.5, 3, {"y": "x", "a.z": "w"})
    assert parsed.to_dict() == body
    assert problems(body) == []  # and the generated CRD schema accepts it too


@pytest.mark.parametrize(
    ("condition", "why"),
    [
        ("outputs.0 >", "unexpected end of condition at 11"),
        ("a ~ 1", "unexpected '~' at 2"),
        ("!" * 101 + "a", r"more than 100 nested '!' and '\(' at 100"),
    ],
)
def test_a_condition_that_does_not_parse_is_refused_naming_the_position(
    condition: str, why: str
) -> None:
    """The CRD's schema cannot parse the condition language, so the API types do: the
    operator's InvalidSpec and local mode's refusal say why, before any router starts."""
    body = graph(root("Switch", {"serviceName": "a", "condition": condition}))
    assert problems(body) == []  # the API server takes it
    with pytest.raises(ValidationError) as caught:
        parse_resource(body)
    (error,) = caught.value.errors()
    assert _dotted(error) == "spec.nodes.root.steps.0"
    assert re.search(rf"invalid condition {re.escape(repr(condition))}: {why}", error["msg"])


def test_a_condition_that_parses_is_kept_as_written() -> None:
    body = graph(
        root("Switch", {"serviceName": "a", "condition": 'outputs.@label.data.0 == "dog"'})
    )
    parsed = parse_resource(body)
    assert isinstance(parsed, InferenceGraph)
    assert parsed.to_dict() == body


@pytest.mark.parametrize(
    "body",
    [
        graph(root("Sequence", {"serviceName": "a", "protocol": "grpc"}), httpEdge="threads"),
        graph(root("Sequence", {"serviceUrl": "grpc://m:8081/v2/models/m"}), httpEdge="threads"),
        graph(root("Ensemble", {"serviceName": "a"}), httpEdge="threads", protocol="grpc"),
    ],
    ids=["step-protocol", "grpc-url", "graph-protocol"],
)
def test_the_threads_edge_takes_grpc_steps(body: dict[str, Any]) -> None:
    """The threaded path calls gRPC steps on its own threads (`router.grpc_block`)."""
    parsed = parse_resource(body)
    assert isinstance(parsed, InferenceGraph)
    assert parsed.spec.http_edge == "threads"
    assert problems(body) == []  # nor does the CRD's schema refuse it
