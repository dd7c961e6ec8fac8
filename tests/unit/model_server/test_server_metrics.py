"""Server metrics in one process: what a request and an execution add to the exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelplane.model_server.metrics import ServerMetrics


def samples(metrics: ServerMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_requests_count_by_outcome_and_leave_flight_when_done() -> None:
    metrics = ServerMetrics()
    meter = metrics.request_meter("iris", "1", "rest")
    assert metrics.request_meter("iris", "1", "rest") is meter  # looked up once
    started = [metrics.begin("iris") for _ in range(3)]
    got = samples(metrics)
    assert got[("modelplane_inference_in_flight", frozenset({("model", "iris")}))] == 3
    metrics.end("iris", "1", "rest", True, started[0])
    metrics.end("iris", "1", "rest", True, started[1])
    metrics.end("iris", "1", "rest", False, started[2])
    got = samples(metrics)
    base = {("model", "iris"), ("version", "1"), ("protocol", "rest")}
    ok = frozenset(base | {("outcome", "success")})
    bad = frozenset(base | {("outcome", "failure")})
    assert got[("modelplane_inference_requests_total", ok)] == 2
    assert got[("modelplane_inference_requests_total", bad)] == 1
    assert got[("modelplane_inference_request_duration_seconds_count", ok)] == 2
    assert got[("modelplane_inference_request_duration_seconds_count", bad)] == 1
    assert got[("modelplane_inference_in_flight", frozenset({("model", "iris")}))] == 0
    assert ("process_cpu_seconds_total", frozenset()) in got


def test_average_batch_size_is_inferences_over_executions() -> None:
    metrics = ServerMetrics()
    model = metrics.model_meter("iris", "1")
    for batch in (1, 5, 6):
        model.executed(batch, 0.001)
        model.queued(0.001)
    got = samples(metrics)
    labels = frozenset({("model", "iris"), ("version", "1")})
    executions = got[("modelplane_inference_executions_total", labels)]
    inferences = got[("modelplane_inferences_total", labels)]
    assert (executions, inferences) == (3, 12)
    assert got[("modelplane_inference_batch_size_bucket", labels | {("le", "4.0")})] == 1
    assert got[("modelplane_inference_queue_duration_seconds_count", labels)] == 3


def test_model_state_marks_exactly_one_state() -> None:
    metrics = ServerMetrics()
    metrics.set_model_state("iris", "loading")
    metrics.set_model_state("iris", "READY")
    got = samples(metrics)
    states = {
        dict(labels)["state"]: value
        for (name, labels), value in got.items()
        if name == "modelplane_model_state"
    }
    assert states == {"loading": 0, "ready": 1, "unloading": 0, "unavailable": 0}
    with pytest.raises(ValueError, match="unknown model state"):
        metrics.set_model_state("iris", "sleepy")
