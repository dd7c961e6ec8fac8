"""The graph as one V2 model: its metadata and configuration, read from its steps' models."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.unit.router.fakes import Upstreams, client_for, described, url


async def test_a_sequence_takes_its_first_steps_inputs_and_its_last_steps_outputs() -> None:
    ups = Upstreams(
        embed=described("embed", ["x"], ["e"], max_batch_size=8),
        head=described("head", ["e"], ["label", "score"], max_batch_size=4),
    )
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "a", "serviceUrl": url("embed")},
                {"name": "b", "serviceUrl": url("head"), "data": "$response"},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        meta = (await c.get("/v2/models/g")).json()
        config = (await c.get("/v2/models/g/config")).json()
    assert meta == {
        "name": "g",
        "versions": [],
        "platform": "modelplane-inference-graph",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "FP32", "shape": [-1, 4]},
            {"name": "score", "datatype": "FP32", "shape": [-1, 4]},
        ],
    }
    assert config["max_batch_size"] == 4  # what every model of the graph takes
    assert config["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}]
    assert [o["name"] for o in config["output"]] == ["label", "score"]


async def test_an_ensemble_names_each_members_outputs_as_its_answer_does() -> None:
    ups = Upstreams(
        one=described("one", ["x"], ["y"]),  # no configuration on this server: no batching
        two=described("two", ["x"], ["y", "z"], max_batch_size=8),
    )
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "p", "serviceUrl": url("one")},
                {"serviceUrl": url("two")},
            ],
        }
    }
    async with client_for(nodes, ups) as c:
        meta = (await c.get("/v2/models/g")).json()
        config = (await c.get("/v2/models/g/config")).json()
    assert [o["name"] for o in meta["outputs"]] == ["p.y", "1.y", "1.z"]
    assert config["max_batch_size"] == 0
    assert config["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 4]}]
    assert [o["name"] for o in config["output"]] == ["p.y", "1.y", "1.z"]


async def test_a_switch_reaching_another_node_takes_that_nodes_signature() -> None:
    ups = Upstreams(
        a=described("a", ["in"], ["mid"]),
        b=described("b", ["mid"], ["out"]),
        c=described("c", ["in"], ["out"]),
    )
    nodes = {
        "root": {
            "routerType": "Switch",
            "steps": [
                {"nodeName": "chain", "condition": "x > 0"},
                {"serviceUrl": url("c")},
            ],
        },
        "chain": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": url("a")},
                {"serviceUrl": url("b"), "data": "$response"},
            ],
        },
    }
    async with client_for(nodes, ups) as c:
        meta = (await c.get("/v2/models/g")).json()
    assert [i["name"] for i in meta["inputs"]] == ["in"]
    assert [o["name"] for o in meta["outputs"]] == ["out"]


async def test_a_model_that_cannot_be_read_is_named_and_nothing_is_kept() -> None:
    answers = {"state": "down"}

    def flaky(request: httpx.Request) -> httpx.Response:
        if answers["state"] == "down":
            raise httpx.ConnectError("refused", request=request)
        return described("m", ["x"], ["y"])(request)

    nodes = {"root": {"routerType": "Sequence", "steps": [{"name": "s", "serviceUrl": url("m")}]}}
    async with client_for(nodes, Upstreams(m=flaky)) as c:
        down = await c.get("/v2/models/g")
        answers["state"] = "up"
        up = await c.get("/v2/models/g/config")
    assert down.status_code == 502
    assert down.json()["error"] == "cannot describe graph 'g'"
    assert "cannot read the model of step root/s" in down.json()["cause"]
    assert up.status_code == 200 and up.json()["output"][0]["name"] == "y"


async def test_outputs_asked_of_a_sequence_go_to_its_last_step_only() -> None:
    """The names a client asks for are the graph's answer's: the last model's. The steps
    before it are asked for every output (the field left out); a nested Sequence passes them
    on to its own last step."""
    seen: dict[str, Any] = {}

    def model(name: str, out: str) -> Any:
        def handle(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            seen[name] = body.get("outputs")
            tensor = body["inputs"][0]
            return httpx.Response(200, json={"model_name": name, "outputs": [
                {**tensor, "name": out}]})  # fmt: skip

        return handle

    ups = Upstreams(a=model("a", "x"), b=model("b", "x"), c=model("c", "score"))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": url("a")},
                {"nodeName": "tail", "data": "$response"},
            ],
        },
        "tail": {
            "routerType": "Sequence",
            "steps": [
                {"serviceUrl": url("b")},
                {"serviceUrl": url("c"), "data": "$response"},
            ],
        },
    }
    asked = [{"name": "score", "parameters": {"binary_data": False}}]
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}],
            "outputs": asked}  # fmt: skip
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", json=body)
    assert r.status_code == 200, r.text
    assert [o["name"] for o in r.json()["outputs"]] == ["score"]
    assert seen == {"a": None, "b": None, "c": asked}
