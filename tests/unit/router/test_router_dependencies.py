"""Dependencies, failures and retries through the ASGI app: Hard and Soft steps, which
failure a node answers with, retry bounds (upstreams faked with httpx.MockTransport)."""

from __future__ import annotations

import httpx

from tests.unit.router.fakes import Upstreams, client_for, failing, url, v2_input, v2_model


async def test_hard_failure_stops_the_sequence_with_its_status() -> None:
    ups = Upstreams(bad=failing(422, {"error": "shape mismatch"}), add=v2_model("add", lambda x: x))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "check", "serviceUrl": url("bad"), "dependency": "Hard"},
                {"serviceUrl": url("add")},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1))
    assert r.status_code == 422
    assert r.json() == {
        "error": "step root/check failed with status 422",
        "cause": "shape mismatch",
        "step": "root/check",
    }
    assert ups.hosts() == ["bad"]


async def test_soft_failure_is_recorded_and_the_sequence_goes_on() -> None:
    ups = Upstreams(bad=failing(500), add=v2_model("add", lambda x: x + 1))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": url("add")},
                {"name": "optional", "serviceUrl": url("bad"), "data": "$response"},
                {"serviceUrl": url("add"), "data": "$response"},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1))
        metrics = (await c.get("/metrics")).text
    assert r.status_code == 200
    assert r.json()["outputs"][0]["data"] == [3]
    assert r.headers["x-modelplane-soft-failures"] == "root/optional"
    assert (
        'modelplane_router_step_errors_total{graph="g",node="root",reason="500",step="root/optional"} 1.0'
        in metrics
    )


async def test_a_sequence_where_no_step_answered_reports_the_first_failure() -> None:
    """The first step got the client's own input, so its refusal says what is wrong with it;
    a `$response` step after it got that same input as the fallback, and its refusal (an input
    name it does not know) would hide the cause. Every failed step is still in the header."""
    ups = Upstreams(
        shape=failing(400, {"error": "input 'x': data has 3 elements but shape [1, 4] needs 4"}),
        names=failing(400, {"error": "input 'x' is not an input of this model"}),
    )
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "classify", "serviceUrl": url("shape")},
                {"name": "pick", "serviceUrl": url("names"), "data": "$response"},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert r.status_code == 400
    assert r.json()["step"] == "root/classify"
    assert r.json()["cause"] == "input 'x': data has 3 elements but shape [1, 4] needs 4"
    assert r.headers["x-modelplane-soft-failures"] == "root/classify,root/pick"
    assert ups.hosts() == ["shape", "names"]
    # The same when the $response step is Hard (the manifests' iris-pipeline): its failure
    # follows from the one before it.
    nodes["root"]["steps"][1]["dependency"] = "Hard"
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert r.status_code == 400 and r.json()["step"] == "root/classify"
    assert r.headers["x-modelplane-soft-failures"] == "root/classify"


async def test_a_response_step_after_failures_only_gets_the_input_and_may_answer() -> None:
    """An optional first step that fails leaves the next `$response` step the node's input
    (there is no answer to take); when that step answers, so does the Sequence."""
    ups = Upstreams(bad=failing(500), add=v2_model("add", lambda x: x + 1))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "enrich", "serviceUrl": url("bad")},
                {"name": "model", "serviceUrl": url("add"), "data": "$response"},
            ],
        }
    }
    async with client_for(nodes, ups, retries=0) as c:
        r = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert r.status_code == 200
    assert r.json()["outputs"][0]["data"] == [2]
    assert r.json()["parameters"]["graph_steps"] == "root/model"
    assert r.headers["x-modelplane-soft-failures"] == "root/enrich"


async def test_ensemble_hard_failure_wins_and_soft_failure_becomes_an_entry() -> None:
    ups = Upstreams(bad=failing(503), add=v2_model("add", lambda x: x + 1))
    soft = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "ok", "serviceUrl": url("add")},
                {"name": "meh", "serviceUrl": url("bad")},
            ],
        }
    }
    hard = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "ok", "serviceUrl": url("add")},
                {"name": "must", "serviceUrl": url("bad"), "dependency": "Hard"},
            ],
        }
    }
    async with client_for(soft, ups, retries=0) as c:
        r = await c.post("/", json=v2_input(1))
        v2 = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert r.status_code == 200
    assert r.json()["meh"]["step"] == "root/meh"
    assert r.json()["ok"]["outputs"][0]["data"] == [2]
    assert r.headers["x-modelplane-soft-failures"] == "root/meh"
    # As one V2 model the graph answers with the members that answered, and still says which
    # member failed.
    assert v2.status_code == 200
    assert [o["name"] for o in v2.json()["outputs"]] == ["ok.add_out"]
    assert v2.json()["parameters"]["graph_steps"] == "root/ok"
    assert v2.headers["x-modelplane-soft-failures"] == "root/meh"
    async with client_for(hard, ups, retries=0) as c:
        r = await c.post("/", json=v2_input(1))
    assert r.status_code == 503 and r.json()["step"] == "root/must"


async def test_retries_503_then_succeeds_within_bounds() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return (
            httpx.Response(503, json={"error": "warming"})
            if calls["n"] < 3
            else v2_model("f", float)(request)
        )

    ups = Upstreams(flaky=flaky)
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url("flaky")}]}}
    async with client_for(nodes, ups, retries=2) as c:
        r = await c.post("/", json=v2_input(7))
    assert r.status_code == 200 and calls["n"] == 3
    calls["n"] = 0
    async with client_for(nodes, ups, retries=1) as c:
        r = await c.post("/", json=v2_input(7))
    assert r.status_code == 503 and calls["n"] == 2


async def test_connection_error_is_retried_then_502() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    ups = Upstreams(down=refuse)
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"name": "s", "serviceUrl": url("down"), "retries": 3}],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/", json=v2_input(1))
    assert r.status_code == 502
    assert r.json()["step"] == "root/s" and "ConnectError" in r.json()["cause"]
    assert len(ups.seen) == 4


async def test_client_errors_are_not_retried() -> None:
    ups = Upstreams(bad=failing(400))
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url("bad")}]}}
    async with client_for(nodes, ups, retries=5) as c:
        r = await c.post("/", json=v2_input(1))
    assert r.status_code == 400 and len(ups.seen) == 1
