"""Timeouts, retries, deadlines and dependencies against real upstreams on 127.0.0.1 sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import orjson
import pytest

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.servers import DroppingServer, serve_asgi, serve_router
from tests.component.router.upstream_app import Upstream
from tests.support.ports import free_port

pytestmark = pytest.mark.usefixtures("both_edges")  # each test through both HTTP edges

V2_IN = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1.0, 2.0]}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[Upstream, str]]:
    app = Upstream(delay=2.0)
    with serve_asgi(app, lifespan="off") as base:
        yield app, base


def model(base: str, name: str) -> str:
    return f"{base}/v2/models/{name}/infer"


@contextmanager
def router(
    nodes: dict[str, Any], timeout: float | None = None, **settings: Any
) -> Iterator[httpx.Client]:
    doc: dict[str, Any] = {"name": "g", "nodes": nodes}
    if timeout is not None:
        doc["timeout"] = timeout
    app = RouterApp(load(doc), RouterSettings(**{"retry_backoff": 0.01, **settings}))
    with ExitStack() as stack:
        base, _ = stack.enter_context(serve_router(app))
        yield stack.enter_context(httpx.Client(base_url=base, timeout=10))


def seq(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"root": {"routerType": "Sequence", "steps": list(steps)}}


def test_slow_step_times_out_with_504_naming_it(upstream: tuple[Upstream, str]) -> None:
    _, base = upstream
    nodes = seq({"name": "slow", "serviceUrl": model(base, "slow"), "timeout": 0.2})
    with router(nodes) as c:
        start = time.monotonic()
        r = c.post("/", json=V2_IN)
        took = time.monotonic() - start
    assert r.status_code == 504
    assert r.json()["step"] == "root/slow" and "timed out" in r.json()["error"]
    assert 0.15 < took < 1.5


def test_overall_deadline_stops_a_long_sequence(upstream: tuple[Upstream, str]) -> None:
    _, base = upstream
    nodes = seq(
        {"name": "a", "serviceUrl": model(base, "add1")},
        {"name": "b", "serviceUrl": model(base, "slow")},
    )
    with router(nodes, timeout=0.3) as c:
        start = time.monotonic()
        r = c.post("/", json=V2_IN)
        took = time.monotonic() - start
    assert r.status_code == 504
    assert r.json() == {
        "error": "graph deadline exceeded",
        "cause": "the graph's deadline of 0.3s passed",
        "step": "root/b",
    }
    assert took < 1.5


def test_the_requests_own_timeout_bounds_the_whole_graph(upstream: tuple[Upstream, str]) -> None:
    """Triton's `timeout` request parameter (microseconds) asked of a graph bounds the graph,
    as its own deadline does, the earlier of the two applying; a malformed one is a 400."""
    _, base = upstream
    nodes = seq(
        {"name": "a", "serviceUrl": model(base, "add1")},
        {"name": "b", "serviceUrl": model(base, "slow")},
    )
    with router(nodes, timeout=30) as c:
        start = time.monotonic()
        r = c.post("/", json={**V2_IN, "parameters": {"timeout": 300_000}})
        took = time.monotonic() - start
        bad = c.post("/", json={**V2_IN, "parameters": {"timeout": "soon"}})
        # a long body (scanned once for its keys) names it after its data, as JSON may
        data = [0.5] * 30_000
        tensor = {"name": "x", "datatype": "FP32", "shape": [len(data)], "data": data}
        long = c.post("/", json={"inputs": [tensor], "parameters": {"timeout": 300_000}})
    for answer in (r, long):
        assert answer.status_code == 504
        assert answer.json() == {
            "error": "graph deadline exceeded",
            "cause": "the request's timeout parameter of 0.3s passed",
            "step": "root/b",
        }
    assert took < 1.5
    assert bad.status_code == 400
    assert "parameters.timeout must be a whole number of microseconds" in bad.json()["cause"]


def test_soft_slow_member_does_not_hold_an_ensemble_past_its_timeout(
    upstream: tuple[Upstream, str],
) -> None:
    _, base = upstream
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "fast", "serviceUrl": model(base, "add1")},
                {"name": "slow", "serviceUrl": model(base, "slow"), "timeout": 0.2},
            ],
        }
    }
    with router(nodes) as c:
        start = time.monotonic()
        r = c.post("/", json=V2_IN)
        took = time.monotonic() - start
    assert r.status_code == 200
    assert r.json()["fast"]["outputs"][0]["data"] == [2.0, 3.0]
    assert r.json()["slow"]["step"] == "root/slow"
    assert r.headers["x-modelplane-soft-failures"] == "root/slow"
    assert took < 1.5


def test_flaky_upstream_is_retried_until_it_answers(upstream: tuple[Upstream, str]) -> None:
    app, base = upstream
    app.calls["flaky"] = 0
    nodes = seq({"serviceUrl": model(base, "flaky")})
    with router(nodes, retries=2) as c:
        r = c.post("/", json=V2_IN)
        metrics = c.get("/metrics").text
    assert r.status_code == 200 and app.calls["flaky"] == 3
    assert (
        'modelplane_router_step_retries_total{graph="g",node="root",step="root/0"} 2.0' in metrics
    )


def test_retries_are_bounded_and_the_status_propagates(upstream: tuple[Upstream, str]) -> None:
    app, base = upstream
    app.calls["flaky"] = 0
    nodes = seq({"name": "f", "serviceUrl": model(base, "flaky"), "retries": 1})
    with router(nodes) as c:
        r = c.post("/", json=V2_IN)
    assert r.status_code == 503 and app.calls["flaky"] == 2
    assert r.json() == {
        "error": "step root/f failed with status 503",
        "cause": "not ready yet",
        "step": "root/f",
    }


def test_refused_connection_is_retried_then_answered_502() -> None:
    nodes = seq({"name": "gone", "serviceUrl": f"http://127.0.0.1:{free_port()}/v2/models/m/infer"})
    with router(nodes, retries=2) as c:
        r = c.post("/", json=V2_IN)
        metrics = c.get("/metrics").text
    assert r.status_code == 502
    assert r.json()["step"] == "root/gone" and "connect" in r.json()["cause"].lower()
    assert 'reason="unreachable",step="root/gone"} 1.0' in metrics


def test_dropped_connections_are_retried() -> None:
    answer = orjson.dumps({"model_name": "m", "outputs": []})
    with DroppingServer(drops=2, body=answer) as upstream:
        nodes = seq({"serviceUrl": f"http://127.0.0.1:{upstream.port}/v2/models/m/infer"})
        with router(nodes, retries=2) as c:
            r = c.post("/", json=V2_IN)
    assert r.status_code == 200 and r.json()["model_name"] == "m"
    assert upstream.connections == 3


def test_hard_failure_ends_the_graph_soft_failure_does_not(upstream: tuple[Upstream, str]) -> None:
    app, base = upstream
    soft = seq(
        {"name": "opt", "serviceUrl": model(base, "broken")},
        {"name": "main", "serviceUrl": model(base, "add1")},
    )
    hard = seq(
        {"name": "must", "serviceUrl": model(base, "broken"), "dependency": "Hard"},
        {"name": "main", "serviceUrl": model(base, "add1")},
    )
    with router(soft) as c:
        r = c.post("/", json=V2_IN)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [2.0, 3.0]
    assert r.headers["x-modelplane-soft-failures"] == "root/opt"
    before = app.calls["add1"]
    with router(hard) as c:
        r = c.post("/", json=V2_IN)
    assert r.status_code == 500
    assert r.json() == {
        "error": "step root/must failed with status 500",
        "cause": "model exploded",
        "step": "root/must",
    }
    assert app.calls["add1"] == before


def test_trace_headers_reach_the_upstream(upstream: tuple[Upstream, str]) -> None:
    app, base = upstream
    with router(seq({"serviceUrl": model(base, "add1")})) as c:
        r = c.post("/", json=V2_IN, headers={"traceparent": "00-1-2-01", "x-request-id": "abc"})
    seen = app.headers[-1]
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc"
    assert seen["traceparent"] == "00-1-2-01" and seen["x-request-id"] == "abc"


def test_metrics_show_latency_per_node_and_step_and_in_flight(
    upstream: tuple[Upstream, str],
) -> None:
    _, base = upstream
    with router(seq({"name": "a", "serviceUrl": model(base, "add1")})) as c:
        for _ in range(3):
            assert c.post("/v2/models/g/infer", json=V2_IN).status_code == 200
        text = c.get("/metrics").text
    assert (
        'modelplane_router_node_duration_seconds_count{graph="g",node="root",router_type="Sequence"} 3.0'
        in text
    )
    assert (
        'modelplane_router_step_duration_seconds_count{graph="g",node="root",step="root/a"} 3.0'
        in text
    )
    assert 'modelplane_router_requests_total{code="200",graph="g"} 3.0' in text
    assert 'modelplane_router_in_flight_requests{graph="g"} 0.0' in text


def test_hard_failure_cancels_the_slow_members_of_an_ensemble(
    upstream: tuple[Upstream, str],
) -> None:
    _, base = upstream
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "slow", "serviceUrl": model(base, "slow")},
                {"name": "must", "serviceUrl": model(base, "broken"), "dependency": "Hard"},
            ],
        }
    }
    with router(nodes) as c:
        start = time.monotonic()
        r = c.post("/", json=V2_IN)
        took = time.monotonic() - start
    assert r.status_code == 500 and r.json()["step"] == "root/must"
    assert took < 1.5  # the 2 s member was not waited for


def test_connections_to_an_upstream_are_pooled_and_reused() -> None:
    answer = orjson.dumps({"model_name": "m", "outputs": []})
    with DroppingServer(drops=0, body=answer) as upstream:
        nodes = seq({"serviceUrl": f"http://127.0.0.1:{upstream.port}/v2/models/m/infer"})
        with router(nodes) as c:
            for _ in range(20):
                assert c.post("/", json=V2_IN).status_code == 200
    assert upstream.connections == 1


def test_in_flight_gauge_counts_requests_being_served(upstream: tuple[Upstream, str]) -> None:
    _, base = upstream
    pattern = 'modelplane_router_in_flight_requests{graph="g"} '
    with router(seq({"serviceUrl": model(base, "slow")})) as c:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(c.post, "/", json=V2_IN)
            seen = None
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline and seen != "1.0":
                text = c.get("/metrics").text
                seen = text.split(pattern, 1)[1].split("\n", 1)[0]
                time.sleep(0.02)
            assert seen == "1.0"
            assert pending.result(timeout=10).status_code == 200
        after = c.get("/metrics").text
    assert pattern + "0.0" in after
