"""Graph semantics end to end through the ASGI app, upstreams faked with httpx.MockTransport."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import orjson
import pytest

from modelplane.router.errors import GraphError
from modelplane.router.graph import load
from tests.unit.router.fakes import (
    Upstreams,
    client_for,
    described,
    url,
    v2_input,
    v2_model,
)


async def test_sequence_chains_v2_outputs_into_inputs() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1), dbl=v2_model("dbl", lambda x: x * 2))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "a", "serviceUrl": url("add")},
                {
                    "name": "b",
                    "serviceUrl": url("dbl"),
                    "data": "$response",
                    "mapping": {"add_out": "x"},
                },
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1, 2))
    assert r.status_code == 200
    assert r.json()["outputs"][0]["data"] == [4, 6]
    assert orjson.loads(ups.seen[1].content)["inputs"][0]["name"] == "x"


async def test_sequence_request_data_sends_original_body_unchanged() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1), dbl=v2_model("dbl", lambda x: x * 2))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"serviceUrl": url("add")}, {"serviceUrl": url("dbl")}],
        }
    }
    raw = b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[5]}]}   '
    async with client_for(nodes, ups) as c:
        r = await c.post("/", content=raw)
    assert ups.seen[0].content == raw and ups.seen[1].content == raw
    assert r.json()["outputs"][0]["data"] == [10]


async def test_sequence_condition_stops_and_returns_last_response() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1), dbl=v2_model("dbl", lambda x: x * 2))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": url("add")},
                {
                    "serviceUrl": url("dbl"),
                    "data": "$response",
                    "condition": "outputs.0.data.0 > 10",
                },
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        small = await c.post("/", json=v2_input(1))
        big = await c.post("/", json=v2_input(20))
    assert small.json()["outputs"][0]["data"] == [2]
    assert big.json()["outputs"][0]["data"] == [42]
    assert ups.hosts() == ["add", "add", "dbl"]


async def test_switch_routes_by_condition_and_404s_when_nothing_matches() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1), dbl=v2_model("dbl", lambda x: x * 2))
    nodes = {
        "root": {
            "routerType": "Switch",
            "steps": [
                {"serviceUrl": url("add"), "condition": "inputs.0.data.0 < 0"},
                {"serviceUrl": url("dbl"), "condition": "inputs.0.data.0 >= 100"},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        neg = await c.post("/", json=v2_input(-1))
        big = await c.post("/", json=v2_input(100))
        none = await c.post("/", json=v2_input(5))
        not_json = await c.post("/", content=b"nope")
    assert neg.json()["outputs"][0]["data"] == [0]
    assert big.json()["outputs"][0]["data"] == [200]
    assert none.status_code == 404
    assert none.json()["step"] == "root" and "no step of Switch node root" in none.json()["error"]
    assert set(none.json()) == {"error", "cause", "step"}
    assert not_json.status_code == 400


async def test_ensemble_maps_step_names_to_responses() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1), dbl=v2_model("dbl", lambda x: x * 2))
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [{"name": "plus", "serviceUrl": url("add")}, {"serviceUrl": url("dbl")}],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(3))
        v2 = await c.post("/v2/models/g/infer", json=v2_input(3))
    assert r.status_code == 200
    assert r.json()["plus"]["outputs"][0]["data"] == [4]
    assert r.json()["1"]["outputs"][0]["data"] == [6]
    # Through the V2 endpoint the graph answers as one V2 model.
    assert v2.json()["model_name"] == "g"
    assert [o["name"] for o in v2.json()["outputs"]] == ["plus.add_out", "1.dbl_out"]


async def test_trace_headers_are_forwarded_and_request_id_echoed() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x))
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url("add")}]}}
    headers = {
        "traceparent": "00-abc-def-01",
        "x-request-id": "rid-1",
        "x-b3-traceid": "t",
        "cookie": "secret",
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1), headers=headers)
        r2 = await c.post("/", json=v2_input(1))
    sent = ups.seen[0].headers
    assert sent["traceparent"] == "00-abc-def-01" and sent["x-b3-traceid"] == "t"
    assert sent["x-request-id"] == "rid-1" and "cookie" not in sent
    assert r.headers["x-request-id"] == "rid-1"
    assert len(r2.headers["x-request-id"]) == 32
    assert ups.seen[1].headers["x-request-id"] == r2.headers["x-request-id"]


async def test_nested_node_and_splitter_with_seeded_rng() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1), dbl=v2_model("dbl", lambda x: x * 2))
    nodes = {
        "root": {"routerType": "Sequence", "steps": [{"nodeName": "split"}]},
        "split": {
            "routerType": "Splitter",
            "steps": [
                {"serviceUrl": url("add"), "weight": 50},
                {"serviceUrl": url("dbl"), "weight": 50},
            ],
        },
    }
    async with client_for(nodes, ups) as c:
        for _ in range(20):
            assert (await c.post("/", json=v2_input(1))).status_code == 200
    first = ups.hosts()
    ups.seen.clear()
    async with client_for(nodes, ups) as c:
        for _ in range(20):
            await c.post("/", json=v2_input(1))
    assert ups.hosts() == first and set(first) == {"add", "dbl"}


async def test_endpoints_health_metadata_and_unknown_routes() -> None:
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url("add")}]}}
    ups = Upstreams(add=described("add", ["x"], ["y"]))
    async with client_for(nodes, ups, max_request_size=10) as c:
        assert (await c.get("/healthz")).status_code == 200
        assert (await c.get("/v2/health/ready")).json() == {"ready": True}
        assert (await c.get("/v2/models/g")).json()["name"] == "g"
        assert (await c.get("/v2/models/g/ready")).status_code == 200
        other = await c.post("/v2/models/other/infer", json={})
        assert other.status_code == 404 and set(other.json()) == {"error", "cause", "step"}
        assert (await c.get("/v2/models/other")).json()["error"] == (
            "graph 'other' is not served here; this is 'g'"
        )
        versioned = await c.post("/v2/models/g/versions/1/infer", json={})
        assert versioned.status_code == 404
        assert versioned.json()["error"] == "graph 'g' has no versions: ask for it without one"
        stats = await c.get("/v2/models/g/stats")
        assert stats.status_code == 501 and "keeps no model statistics" in stats.json()["error"]
        index = await c.post("/v2/repository/index", json={})
        assert index.status_code == 501 and "no model repository" in index.json()["error"]
        assert (await c.get("/nope")).status_code == 404
        assert (await c.get("/")).status_code == 405
        too_big = await c.post("/", content=b"x" * 11)
        assert too_big.status_code == 413
        metrics = (await c.get("/metrics")).text
    assert 'modelplane_router_requests_total{code="413",graph="g"} 1.0' in metrics
    assert "modelplane_router_in_flight_requests" in metrics


async def test_step_timeout_answers_504_naming_the_step() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    ups = Upstreams(slow=slow)
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"name": "s", "serviceUrl": url("slow"), "timeout": 0.05}],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1))
    assert r.status_code == 504 and r.json()["step"] == "root/s"
    assert len(ups.seen) == 1  # timeouts are not retried


async def test_mapping_applies_to_ensemble_members_and_a_bad_one_fails_the_member() -> None:
    ups = Upstreams(add=v2_model("add", lambda x: x + 1))
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "ok", "serviceUrl": url("add"), "mapping": {"x": "renamed"}},
                {"name": "bad", "serviceUrl": url("add"), "mapping": {"nope": "x"}},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1))
    assert r.status_code == 200
    assert orjson.loads(ups.seen[0].content)["inputs"][0]["name"] == "renamed"
    assert len(ups.seen) == 1
    assert r.json()["bad"] == {
        "error": "cannot build the input of this step",
        "cause": "request has no input named nope",
        "step": "root/bad",
    }


async def test_binary_extension_requests_and_answers_pass_through() -> None:
    header = b'{"outputs":[{"name":"y","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}'

    def binary_model(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=header + b"\x00\x00\x80?",
            headers={
                "content-type": "application/octet-stream",
                "inference-header-content-length": str(len(header)),
            },
        )

    ups = Upstreams(bin=binary_model)
    nodes = {
        "root": {
            "routerType": "Switch",
            "steps": [{"serviceUrl": url("bin"), "condition": "inputs.@x.shape.0 == 1"}],
        }
    }
    req_header = b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]}'
    body = req_header + b"\x00\x00\x00@"
    headers = {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(req_header)),
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", content=body, headers=headers)
    sent = ups.seen[0]
    assert sent.content == body
    assert sent.headers["inference-header-content-length"] == str(len(req_header))
    assert sent.headers["content-type"] == "application/octet-stream"
    length = int(r.headers["inference-header-content-length"])
    assert r.status_code == 200 and r.content[length:] == b"\x00\x00\x80?"  # bytes untouched
    answered = json.loads(r.content[:length])
    assert answered["model_name"] == "g" and answered["parameters"] == {"graph_steps": "root/0"}
    assert answered["outputs"] == json.loads(header)["outputs"]


async def test_gzip_request_bodies_are_inflated_and_upstreams_are_asked_for_identity() -> None:
    """Bodies are read as the model server reads them (modelplane.edge): bad ones get 400, a
    coding not taken 415 with the codings taken in Accept-Encoding (RFC 9110 15.5.16)."""
    import gzip

    ups = Upstreams(add=v2_model("add", lambda x: x + 1))
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url("add")}]}}
    raw = orjson.dumps(v2_input(1, 2))
    async with client_for(nodes, ups, max_request_size=1000) as c:
        ok = await c.post("/", content=gzip.compress(raw), headers={"content-encoding": "gzip"})
        bomb = await c.post(
            "/", content=gzip.compress(b" " * 5000), headers={"content-encoding": "gzip"}
        )
        odd = await c.post("/", content=raw, headers={"content-encoding": "br"})
        broken = await c.post("/", content=b"not gzip", headers={"content-encoding": "gzip"})
        cut = await c.post(
            "/", content=gzip.compress(raw)[:-8], headers={"content-encoding": "gzip"}
        )
    assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [2, 3]
    assert ups.seen[0].content == raw and ups.seen[0].headers["accept-encoding"] == "identity"
    assert bomb.status_code == 413
    assert odd.status_code == 415 and odd.headers["accept-encoding"] == "gzip, deflate"
    assert "'br' is not supported (it takes gzip, deflate)" in odd.json()["cause"]
    assert broken.status_code == 400 and "accept-encoding" not in broken.headers
    assert cut.status_code == 400 and "truncated" in cut.json()["cause"]
    assert len(ups.seen) == 1


def _gone(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _not_serving(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, json={"error": "model is not ready"})


REVISIONS = {
    "root": {"routerType": "Sequence", "steps": [{"nodeName": "svc-revisions"}]},
    "svc-revisions": {
        "routerType": "Splitter",
        "steps": [
            {"serviceUrl": url("stable"), "weight": 80},
            {"serviceUrl": url("canary"), "weight": 20},
        ],
    },
}


async def test_a_failover_splitter_sends_a_request_its_step_cannot_reach_to_another() -> None:
    """The operator's Splitter over one InferenceService's revisions: while the canary's pods
    are gone (refused) or not serving (503), its share is answered by the stable revision."""
    for broken in (_gone, _not_serving):
        ups = Upstreams(stable=v2_model("stable", lambda x: x + 1), canary=broken)
        async with client_for(REVISIONS, ups, failover=["svc-revisions"]) as c:
            answers = [await c.post("/v2/models/g/infer", json=v2_input(1)) for _ in range(40)]
        assert {r.status_code for r in answers} == {200}
        assert {r.json()["outputs"][0]["data"][0] for r in answers} == {2}
        assert "canary" in ups.hosts()  # the canary was chosen, and failed over


async def test_without_failover_a_splitter_step_that_cannot_be_reached_fails() -> None:
    ups = Upstreams(stable=v2_model("stable", lambda x: x + 1), canary=_gone)
    async with client_for(REVISIONS, ups) as c:
        answers = [await c.post("/v2/models/g/infer", json=v2_input(1)) for _ in range(40)]
    assert {r.status_code for r in answers} == {200, 502}


async def test_failover_does_not_hide_a_wrong_answer_or_every_step_failing() -> None:
    bad_input = Upstreams(
        stable=lambda r: httpx.Response(400, json={"error": "bad input"}), canary=_gone
    )
    async with client_for(REVISIONS, bad_input, failover=["svc-revisions"]) as c:
        statuses = {(await c.post("/", json=v2_input(1))).status_code for _ in range(20)}
    assert statuses == {400}  # a 400 is the answer, not a reason to try elsewhere
    all_gone = Upstreams(stable=_gone, canary=_gone)
    async with client_for(REVISIONS, all_gone, failover=["svc-revisions"]) as c:
        reply = await c.post("/", json=v2_input(1))
    assert reply.status_code == 502


@pytest.mark.parametrize(
    ("failover", "message"),
    [
        ("svc-revisions", "must be a list of node names"),
        (["nope"], "'nope', which is not a node"),
        (["root"], "'root' is a Sequence, not a Splitter"),
    ],
)
def test_a_bad_failover_list_is_refused_at_load(failover: Any, message: str) -> None:
    with pytest.raises(GraphError, match=re.escape(message)):
        load({"name": "g", "nodes": REVISIONS, "failover": failover})
