"""An Ensemble's answer says which steps ran in step order, whichever member answered first
(before, graph_steps followed the order of completion, so one graph's answers differed)."""

from __future__ import annotations

import asyncio

import httpx

from tests.unit.router.fakes import client_for, failing, url, v2_input, v2_model


class _SlowFirst:
    """Member `a` answers after `b` (and after the nested Sequence's steps)."""

    def __init__(self) -> None:
        self.fast = v2_model("fast", lambda x: x)
        self.soft = failing(503)
        self.answered: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "a":
            await asyncio.sleep(0.05)
        self.answered.append(host)
        return (self.soft if host == "down" else self.fast)(request)


async def test_graph_steps_and_soft_failures_follow_step_order() -> None:
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "a", "serviceUrl": url("a")},
                {"name": "b", "serviceUrl": url("b")},
                {"name": "inner", "nodeName": "inner"},
            ],
        },
        "inner": {
            "routerType": "Sequence",
            "steps": [
                {"name": "c", "serviceUrl": url("c")},
                {"name": "d", "serviceUrl": url("down"), "data": "$response"},
            ],
        },
    }
    upstreams = _SlowFirst()
    async with client_for(nodes, upstreams) as c:  # type: ignore[arg-type]
        r = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert r.status_code == 200, r.text
    assert upstreams.answered[-1] == "a"  # the first member answered last
    assert r.json()["parameters"]["graph_steps"] == "root/a,root/b,inner/c"
    assert r.headers["x-modelplane-soft-failures"] == "inner/d"


class _Timed:
    """Members that take the ms in their host name; records the order requests were sent in."""

    def __init__(self) -> None:
        self.fast = v2_model("m", lambda x: x)
        self.sent: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request.url.host)
        await asyncio.sleep(int(request.url.host[1:]) / 1000)
        return self.fast(request)


async def test_the_slowest_member_is_sent_first_once_measured_and_the_answer_keeps_step_order() -> (
    None
):
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [{"name": h, "serviceUrl": url(h)} for h in ("m2", "m80", "m30")],
        }
    }
    upstreams = _Timed()
    async with client_for(nodes, upstreams) as c:  # type: ignore[arg-type]
        first = await c.post("/v2/models/g/infer", json=v2_input(1))
        before, upstreams.sent = upstreams.sent, []
        second = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert before == ["m2", "m80", "m30"]  # nothing measured yet: step order
    assert upstreams.sent == ["m80", "m30", "m2"]  # 28 and 50 ms apart: beyond scheduling delays
    for r in (first, second):
        assert r.status_code == 200, r.text
        assert [o["name"] for o in r.json()["outputs"]] == ["m2.m_out", "m80.m_out", "m30.m_out"]
        assert r.json()["parameters"]["graph_steps"] == "root/m2,root/m80,root/m30"
