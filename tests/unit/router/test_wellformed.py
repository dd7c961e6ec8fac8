"""A V2 request the router converts or reads is checked where it is read: a field of the wrong
type is a 400 naming it, never dropped on the way or written back in another form (found
sending malformed bodies to graphs: a gRPC step dropped an `outputs` that was not a list and
answered 200, wrote an `id` of 5 back as "5" and a dict as its Python repr, and `outputs:
[1, 2]` asked of a Sequence was a 500, as was a `model_name` object sent to a gRPC step)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from modelplane.router.errors import MalformedV2
from modelplane.router.wellformed import check_document
from tests.unit.router.fakes import Handler, Upstreams, client_for, failing, url, v2_model

T = {"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"inputs": [T], "id": 5}, "id must be a string, not 5"),
        ({"inputs": [T], "model_name": {"a": 1}}, "model_name must be a string, not {'a': 1}"),
        ({"inputs": [T], "model_version": 2}, "model_version must be a string, not 2"),
        ({"inputs": [T], "parameters": []}, "parameters must be an object, not []"),
        ({"inputs": [T], "outputs": "y"}, "outputs must be a list of objects, not 'y'"),
        ({"inputs": [T], "outputs": [1]}, "outputs.0 must be an object with a string name"),
        ({"inputs": [T], "outputs": [{"name": 5}]}, "outputs.0 must be an object with a string"),
        ({"inputs": [T], "outputs": [{"name": "y", "parameters": "p"}]}, "outputs.0.parameters"),
        (
            {"inputs": [T], "outputs": [{"name": "y", "parameters": {"binary_data": "no"}}]},
            "outputs.0.parameters.binary_data must be true or false, not 'no'",
        ),
        (
            {"inputs": [T], "parameters": {"binary_data_output": 1}},
            "parameters.binary_data_output must be true or false, not 1",
        ),
        ({"inputs": [1]}, "inputs.0 must be an object, not 1"),
        ({"inputs": [{**T, "name": None}]}, "inputs.0.name must be a string"),
        ({"inputs": [{"name": "x", "shape": [1]}]}, "inputs.0 ('x').datatype must be a string"),
        ({"inputs": [{**T, "shape": "1x4"}]}, "inputs.0 ('x').shape must be a list of integers"),
        ({"inputs": [{**T, "shape": [True]}]}, "inputs.0 ('x').shape must be a list of integers"),
        ({"inputs": [{**T, "parameters": 3}]}, "inputs.0 ('x').parameters must be an object"),
    ],
)
def test_a_malformed_field_is_named(document: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedV2) as caught:
        check_document(document, "inputs")
    assert message in str(caught.value)
    assert caught.value.status == 400


def test_a_well_formed_request_passes() -> None:
    check_document(
        {
            "id": "1",
            "parameters": {"binary_data_output": True, "my": [1]},
            "inputs": [{**T, "parameters": {"binary_data_size": 4}}],
            "outputs": [{"name": "y", "parameters": {"binary_data": False}}],
        },
        "inputs",
    )
    check_document({"id": None, "parameters": None, "outputs": None, "inputs": [T]}, "inputs")


async def test_outputs_not_objects_asked_of_a_sequence_are_a_400_not_a_500() -> None:
    ups = Upstreams(a=v2_model("a", lambda x: x), b=failing(400))
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"serviceUrl": url("a")}, {"serviceUrl": url("b"), "data": "$response"}],
        }
    }
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", json={"inputs": [T], "outputs": [1, 2]})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "malformed V2 request"
    assert "outputs.0 must be an object with a string name, not 1" in r.json()["cause"]
    assert ups.seen == []


async def test_a_grpc_step_refuses_what_it_would_drop_or_rewrite() -> None:
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"name": "g", "serviceUrl": "grpc://127.0.0.1:9/v2/models/m"}],
        }
    }
    async with client_for(nodes, Upstreams()) as c:
        with_id = await c.post("/v2/models/g/infer", json={"inputs": [T], "id": {"a": 1}})
        outputs = await c.post("/v2/models/g/infer", json={"inputs": [T], "outputs": "y"})
        named = await c.post("/v2/models/g/infer", json={"inputs": [T], "model_name": {"a": 1}})
    assert with_id.status_code == 400, with_id.text
    assert with_id.json()["cause"] == "id must be a string, not {'a': 1}"
    assert with_id.json()["step"] == "root/g"
    assert named.status_code == 400, named.text  # was a 500: protobuf's TypeError
    assert named.json()["cause"] == "model_name must be a string, not {'a': 1}"
    assert outputs.status_code == 400
    assert "outputs must be a list of objects, not 'y'" in outputs.json()["cause"]


async def test_a_binary_request_whose_sizes_do_not_fit_its_bytes_is_a_400_not_a_500() -> None:
    ups = Upstreams(a=v2_model("a", lambda x: x), b=v2_model("b", lambda x: x))
    nodes = {
        "root": {
            "routerType": "Sequence",  # asked outputs: the request is read to ask the last step
            "steps": [{"serviceUrl": url("a")}, {"serviceUrl": url("b"), "data": "$response"}],
        }
    }
    tensor = {"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": -1}}
    header = orjson.dumps({"inputs": [tensor], "outputs": [{"name": "y"}]})
    length = {"inference-header-content-length": str(len(header))}
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", content=header + b"\x00" * 4, headers=length)
    assert r.status_code == 400, r.text  # was a 500, "the graph's answer cannot be written"
    assert r.json()["error"] == "malformed V2 request"
    assert r.json()["cause"] == (
        "inputs.0 ('x').parameters.binary_data_size must be a whole number of the 4 binary "
        "bytes left, not -1"
    )
    assert ups.seen == []


async def test_a_request_whose_inputs_are_not_a_list_is_not_read_as_an_answer() -> None:
    ups = Upstreams(a=failing(400), b=failing(400))  # models that refuse what they get
    nodes = {
        "root": {
            "routerType": "Ensemble",  # asked outputs: the request is read for them
            "steps": [{"name": "a", "serviceUrl": url("a")}, {"name": "b", "serviceUrl": url("b")}],
        }
    }
    bad_size = {"name": "a.y", "parameters": {"binary_data_size": "x"}}
    header = orjson.dumps({"inputs": "", "outputs": [bad_size]})
    no_inputs = orjson.dumps({"outputs": [bad_size]})
    async with client_for(nodes, ups) as c:
        r = await c.post("/v2/models/g/infer", json={"inputs": "", "outputs": [{"name": "a.y"}]})
        binary = await c.post(
            "/v2/models/g/infer",
            content=header + b"\x00" * 4,
            headers={"inference-header-content-length": str(len(header))},
        )
        answer_shaped = await c.post(
            "/v2/models/g/infer",
            content=no_inputs + b"\x00" * 4,
            headers={"inference-header-content-length": str(len(no_inputs))},
        )
    for refused in (r, binary):  # both were 500s: read as a response, then not chainable
        assert refused.status_code == 400, refused.text
        assert refused.json()["cause"] == "inputs must be a list of tensors, not ''"
    # no inputs at all: not a request the router reads; the members answer it as they do
    assert answer_shaped.status_code == 400, answer_shaped.text
    assert answer_shaped.json()["step"] in ("root/a", "root/b")


def _answering(document: dict[str, Any], binary: bool = False) -> Handler:
    """A model answering `document` (its one output's data raw in the binary extension)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if not binary:
            return httpx.Response(200, json=document)
        header = orjson.dumps(document)
        return httpx.Response(
            200,
            content=header + b"\x00" * 4,
            headers={"inference-header-content-length": str(len(header))},
        )

    return handle


Y = {"name": "y", "datatype": "FP32", "shape": [1], "data": [1.0]}
Y_RAW = {"name": "y", "datatype": "FP32", "shape": 1.5, "parameters": {"binary_data_size": 4}}


async def test_a_malformed_answer_is_named_not_a_crash_of_the_handler() -> None:
    """A step answering a V2 response with fields of the wrong type, where the router reads
    it: renaming it for the graph (`parameters` a list), or merging binary members (a shape
    that is no list), was a TypeError out of the HTTP handler."""
    ups = Upstreams(
        listed=_answering({"outputs": [Y], "parameters": []}),
        raw=_answering({"outputs": [Y_RAW]}, binary=True),
        fine=_answering({"outputs": [Y]}, binary=False),
    )
    one = {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": url("listed")}]}}
    both = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "a", "serviceUrl": url("raw")},
                {"name": "b", "serviceUrl": url("fine")},
            ],
        }
    }
    async with client_for(one, ups) as c:
        renamed = await c.post("/v2/models/g/infer", json={"inputs": [T]})
    async with client_for(both, ups) as c:
        merged = await c.post("/v2/models/g/infer", json={"inputs": [T]})
    assert renamed.status_code == 500, renamed.text
    assert renamed.json()["cause"] == (
        "a step's answer is not a well-formed V2 response: parameters must be an object, not []"
    )
    assert merged.status_code == 500, merged.text
    assert merged.json()["cause"] == (
        "a step's answer is not a well-formed V2 response: outputs.0 ('y').shape must be a "
        "list of integers, not 1.5"
    )


async def test_json_nested_past_the_parsers_depth_is_a_400_not_a_500() -> None:
    nodes = {
        "root": {"routerType": "Switch", "steps": [{"serviceUrl": url("a"), "condition": "x"}]}
    }
    deep = b'{"x": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    async with client_for(nodes, Upstreams(a=failing(400))) as c:
        r = await c.post("/v2/models/g/infer", content=deep)
    assert r.status_code == 400, r.text  # was a RecursionError, a 500 "router error"
    assert r.json()["error"] == "request body is not JSON"
    assert "depth" in r.json()["cause"]
