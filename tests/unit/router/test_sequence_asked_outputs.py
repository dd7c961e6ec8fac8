"""Outputs asked for by name from a Sequence are its last step's; when the answer is an earlier
step's (the last failed as Soft, or a condition ended the Sequence), the client gets just the
outputs it asked for from that answer, or a refusal saying why, never another step's other
outputs under a 200 (before, the earlier answer came back whole, as if it had been asked)."""

from __future__ import annotations

from typing import Any

import orjson

from tests.unit.router.fakes import Upstreams, client_for, failing, url, v2_input, v2_model

UNKNOWN = {"error": "output 'species' is not an output of this model (has pick_out)"}


def _sequence(second: dict[str, Any]) -> dict[str, Any]:
    return {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "classify", "serviceUrl": url("classify")},
                {"name": "pick", "data": "$response", **second},
            ],
        }
    }


def _asking(*names: str) -> dict[str, Any]:
    return {**v2_input(1), "outputs": [{"name": n} for n in names]}


async def test_the_last_steps_soft_refusal_of_an_asked_output_is_the_answer() -> None:
    ups = Upstreams(classify=v2_model("classify", lambda x: x), pick=failing(400, UNKNOWN))
    async with client_for(_sequence({"serviceUrl": url("pick")}), ups) as c:
        r = await c.post("/v2/models/g/infer", json=_asking("species"))
    assert r.status_code == 400, r.text
    assert r.json()["step"] == "root/pick"
    assert r.json()["cause"] == UNKNOWN["error"]
    assert r.headers["x-modelplane-soft-failures"] == "root/pick"
    assert [req.url.host for req in ups.seen] == ["classify", "pick"]


async def test_an_asked_output_the_earlier_answer_holds_is_given_alone() -> None:
    ups = Upstreams(classify=v2_model("classify", lambda x: x * 2), pick=failing(503))
    async with client_for(_sequence({"serviceUrl": url("pick")}), ups) as c:
        r = await c.post("/v2/models/g/infer", json=_asking("classify_out"))
    assert r.status_code == 200, r.text
    assert [(o["name"], o["data"]) for o in r.json()["outputs"]] == [("classify_out", [2.0])]
    assert r.json()["parameters"]["graph_steps"] == "root/classify"
    assert r.headers["x-modelplane-soft-failures"] == "root/pick"


async def test_a_condition_that_ends_the_sequence_before_the_asked_outputs_is_a_400() -> None:
    ups = Upstreams(classify=v2_model("classify", lambda x: x), pick=v2_model("pick", lambda x: x))
    ended = _sequence({"serviceUrl": url("pick"), "condition": "outputs.0.data.0 > 10"})
    async with client_for(ended, ups) as c:
        refused = await c.post("/v2/models/g/infer", json=_asking("pick_out"))
        held = await c.post("/v2/models/g/infer", json=_asking("classify_out"))
        whole = await c.post("/v2/models/g/infer", json=v2_input(1))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "unknown requested output"
    assert (
        "requested output 'pick_out' is not in the answer of step root/classify"
        in (refused.json()["cause"])
    )
    assert "the condition of step root/pick ended the sequence" in refused.json()["cause"]
    assert held.status_code == 200 and [o["name"] for o in held.json()["outputs"]] == [
        "classify_out"
    ]
    assert whole.status_code == 200 and whole.json()["outputs"][0]["name"] == "classify_out"
    assert ups.hosts() == ["classify"] * 3


async def test_outputs_asked_under_an_escaped_key_are_the_last_steps() -> None:
    # "\u006futputs" is "outputs": a reader of the JSON sees them asked for, so must the router
    ups = Upstreams(classify=v2_model("classify", lambda x: x), pick=v2_model("pick", lambda x: x))
    body = orjson.dumps(_asking("pick_out")).replace(b'"outputs"', b'"\\u006futputs"')
    async with client_for(_sequence({"serviceUrl": url("pick")}), ups) as c:
        r = await c.post("/v2/models/g/infer", content=body)
    assert r.status_code == 200, r.text
    first, last = (orjson.loads(req.content) for req in ups.seen)
    assert "outputs" not in first  # the steps before the last answer whole
    assert last["outputs"] == [{"name": "pick_out"}]


async def test_the_last_steps_answer_is_unchanged() -> None:
    ups = Upstreams(classify=v2_model("classify", lambda x: x), pick=v2_model("pick", lambda x: x))
    async with client_for(_sequence({"serviceUrl": url("pick")}), ups) as c:
        r = await c.post("/v2/models/g/infer", json=_asking("pick_out"))
    assert r.status_code == 200 and r.json()["outputs"][0]["name"] == "pick_out"
    assert r.json()["parameters"]["graph_steps"] == "root/classify,root/pick"


def test_only_asked_keeps_the_answers_form_and_refuses_what_it_cannot_give() -> None:
    import struct

    from modelplane.router.chaining import only_asked
    from modelplane.router.payload import Payload
    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb

    message = pb.ModelInferResponse(model_name="m", id="7")
    for name in ("a", "b"):
        message.outputs.add(name=name, datatype="INT32", shape=[1])
    message.raw_output_contents.extend([struct.pack("<i", 1), struct.pack("<i", 2)])
    picked = only_asked(Payload.of_message(message), [{"name": "b"}])
    assert picked is not None and picked.message is not None
    assert [o.name for o in picked.message.outputs] == ["b"]
    assert list(picked.message.raw_output_contents) == [struct.pack("<i", 2)]
    assert picked.message.id == "7"
    header = b'{"outputs":[{"name":"a","datatype":"INT32","shape":[1],"parameters":{"binary_data_size":4}}]}'
    binary = Payload(header + struct.pack("<i", 5), header_length=len(header))
    kept = only_asked(binary, [{"name": "a", "parameters": {"binary_data": True}}])
    assert kept is not None and kept.header_length is not None
    assert kept.body.endswith(struct.pack("<i", 5))
    assert only_asked(binary, [{"name": "a", "parameters": {"classification": 1}}]) is None
    assert only_asked(binary, [{"name": "z"}]) is None
    assert only_asked(Payload(b'{"predictions": [1]}'), [{"name": "a"}]) is None
