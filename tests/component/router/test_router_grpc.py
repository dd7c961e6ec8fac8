"""The router over gRPC, both ways, against real `modelplane serve` servers and ONNX models.

`tritonclient.grpc` calls the graph as it calls a model; every node type runs gRPC steps
(``grpc://`` serviceUrls) and answers what calling the models by hand answers, bit for bit,
through both HTTP edges (the threads call gRPC steps with `grpc_block`).
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import numpy as np
import pytest

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.select import select_steps
from modelplane.router.settings import RouterSettings
from tests.component.router.graphs import (
    X,
    by_hand,
    chain,
    chain_by_hand,
    ensemble,
    graph_client,
    grpc_url,
    infer,
    rest_url,
    steps_of,
    switch,
)
from tests.component.router.servers import serve_router
from tests.support.model_server import RunningServer

pytestmark = pytest.mark.usefixtures("both_edges")  # gRPC steps on the loop and on threads


def test_sequence_of_three_grpc_steps_equals_the_hand_calls_bit_for_bit(
    models: RunningServer,
) -> None:
    with graph_client(chain(models, grpc_url), name="pipeline") as (client, _):
        result = infer(client, "pipeline", X)
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("pipeline")
        assert client.get_model_metadata("pipeline").name == "pipeline"
    want = chain_by_hand(models, X, "embed", "mix", "head")
    got = result.as_numpy("y")
    assert got.dtype == want.dtype and got.shape == want.shape == (1, 2)
    assert got.tobytes() == want.tobytes()
    assert result.get_response().model_name == "pipeline"
    assert steps_of(result) == "root/embed,root/mix,root/head"


def test_grpc_in_rest_out_and_rest_binary_in_grpc_out_give_the_same_bits(
    models: RunningServer,
) -> None:
    import tritonclient.http as th

    want = chain_by_hand(models, X, "embed", "mix", "head")
    with graph_client(chain(models, rest_url), name="p") as (client, _):
        over_rest_steps = infer(client, "p", X).as_numpy("y")
    assert over_rest_steps.tobytes() == want.tobytes()
    with graph_client(chain(models, grpc_url), name="p") as (_, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        tensor = th.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=True)
        out = th.InferRequestedOutput("y", binary_data=True)
        result = http.infer("p", [tensor], outputs=[out])
        http.close()
    assert result.as_numpy("y").tobytes() == want.tobytes()
    assert result.get_response()["model_name"] == "p"


def test_binary_rest_chain_of_three_models_equals_the_hand_calls_bit_for_bit(
    models: RunningServer,
) -> None:
    import tritonclient.http as th

    want = chain_by_hand(models, X, "embed", "mix", "head")
    with graph_client(chain(models, rest_url), name="bin") as (_, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        tensor = th.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=True)
        out = th.InferRequestedOutput("y", binary_data=True)
        result = http.infer("bin", [tensor], outputs=[out])
        http.close()
    response = result.get_response()
    assert response["outputs"][0]["parameters"]["binary_data_size"] == 8  # binary end to end
    assert result.as_numpy("y").tobytes() == want.tobytes()
    assert response["model_name"] == "bin"
    assert response["parameters"]["graph_steps"] == "root/embed,root/mix,root/head"


@pytest.mark.parametrize("url", [rest_url, grpc_url], ids=["rest-steps", "grpc-steps"])
def test_a_json_request_gets_binary_outputs_where_it_asked_for_each(
    models: RunningServer, url: Any
) -> None:
    """A JSON request whose requested outputs set their own `binary_data` (tritonclient's
    default) gets those outputs binary and the others JSON, from a Sequence and from an
    Ensemble (before, the graph answered every output in JSON)."""
    import tritonclient.http as th

    tensor = th.InferInput("x", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X, binary_data=False)
    with graph_client(chain(models, url), name="p") as (_, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        chained = http.infer("p", [tensor], outputs=[th.InferRequestedOutput("y", True)])
        http.close()
    with graph_client(ensemble(models, url), name="both") as (_, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        asked = [th.InferRequestedOutput("a.y", True), th.InferRequestedOutput("b.y", False)]
        merged = http.infer("both", [tensor], outputs=asked)
        http.close()
    out = chained.get_response()["outputs"][0]
    assert out["parameters"]["binary_data_size"] == 8 and "data" not in out
    assert (
        chained.as_numpy("y").tobytes()
        == chain_by_hand(models, X, "embed", "mix", "head").tobytes()
    )
    forms = {o["name"]: o for o in merged.get_response()["outputs"]}
    assert "binary_data_size" in forms["a.y"]["parameters"] and "data" in forms["b.y"]
    assert merged.as_numpy("a.y").tobytes() == by_hand(models, "embed", X).tobytes()
    assert merged.as_numpy("b.y").tobytes() == by_hand(models, "alt", X).tobytes()


def test_binary_rest_ensemble_answers_every_member_whole(models: RunningServer) -> None:
    """A binary-extension request to an Ensemble of REST members (each answers binary): the
    merged answer holds every member's tensor, as JSON or binary as the client asks."""
    import tritonclient.http as th

    with graph_client(ensemble(models, rest_url), name="both") as (_, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        tensor = th.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=True)
        binary = http.infer("both", [tensor], request_compression_algorithm=None)
        http.close()
        plain = httpx.post(
            f"{base}/v2/models/both/infer",
            json={"inputs": [{"name": "x", "shape": list(X.shape), "datatype": "FP32",
                              "data": X.ravel().tolist()}]},
        )  # fmt: skip
    outputs = {o["name"]: o for o in plain.json()["outputs"]}
    for name, model in (("a.y", "embed"), ("b.y", "alt")):
        want = by_hand(models, model, X)
        assert binary.as_numpy(name).tobytes() == want.tobytes()
        assert np.asarray(outputs[name]["data"], dtype=np.float32).tobytes() == want.tobytes()


def test_an_ensembles_outputs_asked_by_their_names_reach_only_their_members(
    models: RunningServer,
) -> None:
    """tritonclient asks an Ensemble for outputs by the names it answers with: over HTTP
    (binary, as InferRequestedOutput asks) and over gRPC each member gets its own output's
    name, a member none of whose outputs were asked for is not called, and a name that is no
    member's is refused with 400."""
    import tritonclient.grpc as tg
    import tritonclient.http as th
    from tritonclient.utils import InferenceServerException

    with graph_client(ensemble(models, rest_url), name="both") as (grpc_client, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        tensor = th.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=True)
        only_a = http.infer("both", [tensor], outputs=[th.InferRequestedOutput("a.y")])
        both = http.infer(
            "both", [tensor], outputs=[th.InferRequestedOutput(n) for n in ("a.y", "b.y")]
        )
        with pytest.raises(InferenceServerException, match=r"\[400\] unknown requested output"):
            http.infer("both", [tensor], outputs=[th.InferRequestedOutput(n) for n in ("a.y", "z")])
        http.close()
        grpc_tensor = tg.InferInput("x", list(X.shape), "FP32")
        grpc_tensor.set_data_from_numpy(X)
        only_b = grpc_client.infer("both", [grpc_tensor], outputs=[tg.InferRequestedOutput("b.y")])
    a, b = by_hand(models, "embed", X).tobytes(), by_hand(models, "alt", X).tobytes()
    assert [o["name"] for o in only_a.get_response()["outputs"]] == ["a.y"]
    assert only_a.get_response()["parameters"]["graph_steps"] == "root/a"
    assert only_a.as_numpy("a.y").tobytes() == a
    assert (both.as_numpy("a.y").tobytes(), both.as_numpy("b.y").tobytes()) == (a, b)
    assert [o.name for o in only_b.get_response().outputs] == ["b.y"]
    assert steps_of(only_b) == "root/b"
    assert only_b.as_numpy("b.y").tobytes() == b


def test_switch_over_grpc_picks_by_a_condition_on_the_tensor_values(
    models: RunningServer,
) -> None:
    with graph_client(switch(models, grpc_url)) as (client, _):
        positive = infer(client, "g", X)
        negative = infer(client, "g", -X)
    assert steps_of(positive) == "root/pos" and steps_of(negative) == "root/neg"
    assert positive.as_numpy("y").tobytes() == by_hand(models, "embed", X).tobytes()
    assert negative.as_numpy("y").tobytes() == by_hand(models, "alt", -X).tobytes()


def test_a_switch_given_raw_contents_it_cannot_read_refuses_them_by_name(
    models: RunningServer,
) -> None:
    """The condition reads the client's tensors: raw contents that are not whole FP32
    values, or BYTES whose lengths run past the end, are the client's INVALID_ARGUMENT
    (they were a 500 "router error", numpy's ValueError)."""
    import grpc

    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
    from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    cut = pb.ModelInferRequest(model_name="g")
    cut.inputs.add(name="x", datatype="FP32", shape=list(X.shape))
    cut.raw_input_contents.append(X.tobytes()[:-1])
    past = pb.ModelInferRequest(model_name="g")
    past.inputs.add(name="x", datatype="BYTES", shape=[1])
    past.raw_input_contents.append(b"\x09\x00\x00\x00abc")
    app = RouterApp(load({"name": "g", "nodes": switch(models, grpc_url)}), RouterSettings())
    with serve_router(app) as (_, target), grpc.insecure_channel(target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        refused = []
        for request in (cut, past):
            with pytest.raises(grpc.RpcError) as caught:
                stub.ModelInfer(request)
            refused.append(caught.value)
    assert [e.code() for e in refused] == [grpc.StatusCode.INVALID_ARGUMENT] * 2
    assert "tensor 'x': 31 bytes are not a whole number of FP32 values" in refused[0].details()
    assert "a BYTES element of 9 bytes runs past the data's end" in refused[1].details()


def test_a_rest_requests_parameters_reach_a_grpc_step_exactly_or_are_refused(
    models: RunningServer,
) -> None:
    """An integer past int64 travels as uint64 (it was a 500, protobuf's ValueError); null,
    a list or an object, which no InferParameter carries, is a 400 naming it (they went on
    as Python's text: "None", "[1, 2]")."""
    nodes = {
        "root": {"routerType": "Sequence", "steps": [{"serviceUrl": grpc_url(models, "embed")}]}
    }
    tensor = {"name": "x", "datatype": "FP32", "shape": list(X.shape), "data": X.ravel().tolist()}
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings())
    with serve_router(app) as (base, _), httpx.Client(base_url=base, timeout=30) as client:
        big = client.post(
            "/v2/models/g/infer", json={"inputs": [tensor], "parameters": {"n": 2**64 - 1}}
        )
        listed = client.post(
            "/v2/models/g/infer", json={"inputs": [tensor], "parameters": {"n": [1, 2]}}
        )
    assert big.status_code == 200, big.text
    assert big.json()["parameters"]["n"] == 2**64 - 1  # the model server echoes it
    assert listed.status_code == 400, listed.text
    assert listed.json()["cause"] == (
        "the request: parameter 'n' is [1, 2]: gRPC carries true or false, integers within "
        "64 bits, numbers and strings"
    )


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-steps", "rest-steps"])
def test_ensemble_over_grpc_answers_every_member_as_one_v2_response(
    models: RunningServer, url: Any
) -> None:
    """Members over gRPC, or over REST (where the router sends the gRPC request's tensors in
    the binary extension and each member answers binary): every member's tensor whole."""
    import tritonclient.grpc as tg

    with graph_client(ensemble(models, url), name="both") as (client, base):
        result = infer(client, "both", X)
        tensor = tg.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X)
        named = client.infer("both", [tensor], request_id="req-7")
        rest = httpx.post(
            f"{base}/v2/models/both/infer",
            json={"id": "req-8", "inputs": [{"name": "x", "datatype": "FP32",
                                             "shape": list(X.shape), "data": X.ravel().tolist()}]},
            timeout=30,
        )  # fmt: skip
    assert result.get_response().model_name == "both"
    # the request's id, which every member echoed, is the merged answer's (it was dropped)
    assert named.get_response().id == "req-7"
    assert rest.json()["id"] == "req-8"
    assert result.as_numpy("a.y").tobytes() == by_hand(models, "embed", X).tobytes()
    assert result.as_numpy("b.y").tobytes() == by_hand(models, "alt", X).tobytes()


def test_splitter_over_grpc_follows_the_seeded_weighted_choice(models: RunningServer) -> None:
    nodes = {
        "root": {
            "routerType": "Splitter",
            "steps": [
                {"serviceUrl": grpc_url(models, "embed"), "weight": 30},
                {"serviceUrl": grpc_url(models, "alt"), "weight": 70},
            ],
        }
    }
    expected_rng = random.Random(5)
    graph = load({"name": "g", "nodes": nodes})
    expected = [select_steps(graph.root, None, expected_rng)[0] for _ in range(20)]
    with graph_client(nodes, seed=5) as (client, _):
        results = [infer(client, "g", X) for _ in range(20)]
    assert [steps_of(r) for r in results] == [s.label for s in expected]
    assert {steps_of(r) for r in results} == {"root/0", "root/1"}
    for result, step in zip(results, expected, strict=True):
        model = (step.model or "").rsplit("/", 1)[-1]
        assert result.as_numpy("y").tobytes() == by_hand(models, model, X).tobytes()


def test_grpc_errors_carry_the_code_and_the_failing_step(models: RunningServer) -> None:
    import grpc
    import tritonclient.grpc as tg
    from tritonclient.utils import InferenceServerException

    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"name": "gone", "serviceUrl": grpc_url(models, "missing"),
                       "dependency": "Hard"}],
        }
    }  # fmt: skip
    with graph_client(nodes) as (client, _):
        with pytest.raises(InferenceServerException) as wrong_graph:
            infer(client, "other", X)
        with pytest.raises(InferenceServerException) as failed:
            infer(client, "g", X)
        with pytest.raises(InferenceServerException) as versioned:
            tensor = tg.InferInput("x", list(X.shape), "FP32")
            tensor.set_data_from_numpy(X)
            client.infer("g", [tensor], model_version="1")
        with pytest.raises(InferenceServerException) as stats:
            client.get_inference_statistics("g")
        assert not _ready(client, "other")
    assert versioned.value.status() == str(grpc.StatusCode.NOT_FOUND)
    assert versioned.value.message() == "graph 'g' has no versions: ask for it without one"
    assert stats.value.status() == str(grpc.StatusCode.UNIMPLEMENTED)
    assert "keeps no model statistics" in (stats.value.message() or "")
    assert wrong_graph.value.status() == str(grpc.StatusCode.NOT_FOUND)
    assert failed.value.status() == str(grpc.StatusCode.NOT_FOUND)
    assert '"step":"root/gone"' in (failed.value.message() or "")


def _ready(client: Any, name: str) -> bool:
    from tritonclient.utils import InferenceServerException

    try:
        return bool(client.is_model_ready(name))
    except InferenceServerException:
        return False


@pytest.mark.parametrize("url", [grpc_url, rest_url], ids=["grpc-steps", "rest-steps"])
def test_a_soft_failed_member_is_named_in_the_trailing_metadata_and_the_header(
    models: RunningServer, url: Any
) -> None:
    """An Ensemble whose Soft member fails answers with the others, over gRPC and over REST,
    and says which member failed: gRPC in its trailing metadata, REST in its header."""
    import grpc

    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
    from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                {"name": "a", "serviceUrl": url(models, "embed")},
                {"name": "gone", "serviceUrl": url(models, "missing")},
            ],
        }
    }
    request = pb.ModelInferRequest(model_name="g")
    request.inputs.add(name="x", datatype="FP32", shape=list(X.shape))
    request.raw_input_contents.append(X.tobytes())
    v2_json = {"inputs": [{"name": "x", "datatype": "FP32", "shape": list(X.shape),
                           "data": X.ravel().tolist()}]}  # fmt: skip
    app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings())
    with serve_router(app) as (base, target), grpc.insecure_channel(target) as channel:
        answer, call = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer.with_call(request)
        rest = httpx.post(f"{base}/v2/models/g/infer", json=v2_json, timeout=30)
    assert [o.name for o in answer.outputs] == ["a.y"]
    assert np.frombuffer(answer.raw_output_contents[0], np.float32).tobytes() == (
        by_hand(models, "embed", X).tobytes()
    )
    assert answer.parameters["graph_steps"].string_param == "root/a"
    assert ("x-modelplane-soft-failures", "root/gone") in call.trailing_metadata()
    assert rest.status_code == 200
    assert [o["name"] for o in rest.json()["outputs"]] == ["a.y"]
    assert rest.headers["x-modelplane-soft-failures"] == "root/gone"


def test_server_metadata_names_the_extensions_it_serves_alike_over_rest_and_grpc(
    models: RunningServer,
) -> None:
    """The binary tensor extension and model configuration are served, so the server
    metadata says so over both protocols (it listed none)."""
    import tritonclient.http as th

    with graph_client(chain(models, rest_url), name="p") as (grpc_client, base):
        http = th.InferenceServerClient(base.removeprefix("http://"))
        rest = http.get_server_metadata()
        http.close()
        grpc = grpc_client.get_server_metadata(as_json=True)
    assert rest["name"] == grpc["name"] == "modelplane-router"
    assert rest["extensions"] == grpc["extensions"] == ["binary_tensor_data", "model_configuration"]
