"""Randomly broken requests, and randomly broken answers from a model, through graphs of each
node type on both HTTP edges: every one is answered in the router's error format or passed
on, never a crash ("router error", the edge's "internal server error").

Seeded, so a failure repeats. Each bug these found had its own test first (test_wellformed,
test_tensor_forms, test_conditions, test_router_grpc); this keeps the whole space covered.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import socket
import threading
from typing import Any

import httptools
import httpx
import pytest

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from tests.component.router.graphs import grpc_url, rest_url
from tests.component.router.servers import serve_router
from tests.support.broken import broken, in_binary
from tests.support.model_server import RunningServer

pytestmark = pytest.mark.usefixtures("both_edges")

CRASHES = (b"router error", b"internal server error")
REQUEST = {
    "id": "r1",
    "parameters": {"tier": "high"},
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 8], "data": [0.5] * 8}],
    "outputs": [{"name": "y"}],
}
ANSWER = {
    "model_name": "m",
    "id": "1",
    "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]}],
}


def _body(rng: random.Random) -> tuple[bytes, dict[str, str]]:
    roll = rng.random()
    if roll < 0.3:
        return in_binary(broken(REQUEST, rng), rng)
    text = json.dumps(broken(REQUEST, rng)).encode()
    if roll < 0.4:
        return gzip.compress(text), {"content-encoding": "gzip"}
    return text, {"content-type": "application/json"}


def _message(rng: random.Random) -> Any:
    """A ModelInferRequest with odd raw contents, datatypes, shapes or parameters."""
    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb

    message = pb.ModelInferRequest(model_name="g", id="r1")
    tensor = message.inputs.add(name=rng.choice(("x", "", "nope")))
    tensor.datatype = rng.choice(("FP32", "FP32", "BYTES", "INT64", "BF16", "", "FP8"))
    tensor.shape.extend(rng.choice(([1, 8], [1, 8], [8], [-1, 8], [0])))
    size = rng.choice((32, 32, 31, 3, 0, 9))
    message.raw_input_contents.append(bytes(rng.randrange(256) for _ in range(size)))
    if rng.random() < 0.3:
        message.parameters["tier"].string_param = "high"
    if rng.random() < 0.2:
        message.parameters["timeout"].string_param = "soon"
    if rng.random() < 0.2:
        message.parameters["unset"].SetInParent()  # a parameter with no value
    if rng.random() < 0.2:
        message.outputs.add(name=rng.choice(("y", "", "a.y"))).parameters[
            "binary_data"
        ].int64_param = 1
    return message


def graphs(models: RunningServer) -> dict[str, dict[str, Any]]:
    embed, alt, mix = (rest_url(models, m) for m in ("embed", "alt", "mix"))
    return {
        "sequence": {"root": {"routerType": "Sequence", "steps": [
            {"serviceUrl": embed}, {"serviceUrl": mix, "data": "$response"}]}},
        "ensemble": {"root": {"routerType": "Ensemble", "steps": [
            {"name": "a", "serviceUrl": embed},
            {"name": "b", "serviceUrl": alt, "dependency": "Soft"}]}},
        "switch": {"root": {"routerType": "Switch", "steps": [
            {"serviceUrl": embed, "condition": 'parameters.tier == "high"'},
            {"serviceUrl": alt, "condition": "inputs.0.data.0 > 0"}]}},
        "grpc-step": {"root": {"routerType": "Sequence", "steps": [
            {"serviceUrl": grpc_url(models, "embed")}, {"serviceUrl": mix}]}},
    }  # fmt: skip


def _crashed(status: int, body: bytes) -> bool:
    return status >= 500 and any(word in body for word in CRASHES)


@pytest.mark.parametrize("name", ["sequence", "ensemble", "switch", "grpc-step"])
def test_broken_requests_are_refused_or_passed_on_never_a_crash(
    models: RunningServer, name: str, both_edges: str
) -> None:
    import grpc

    from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    rng = random.Random(f"{name}-{both_edges}")
    app = RouterApp(load({"name": "g", "nodes": graphs(models)[name]}), RouterSettings())
    crashes, statuses = [], set()
    with serve_router(app) as (base, target), httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/v2/models/g/infer", json=REQUEST).status_code == 200
        for _ in range(150):
            body, headers = _body(rng)
            r = client.post(rng.choice(("/v2/models/g/infer", "/")), content=body, headers=headers)
            statuses.add(r.status_code)
            if r.status_code >= 500 and not (r.status_code == 504 and b"timeout" in r.content):
                crashes.append((r.status_code, r.text[:200], body[:200]))
        with grpc.insecure_channel(target) as channel:  # each refusal is the client's
            stub = pb_grpc.GRPCInferenceServiceStub(channel)
            for _ in range(40):
                try:
                    stub.ModelInfer(_message(rng), timeout=30)
                except grpc.RpcError as exc:
                    if exc.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                        crashes.append((exc.code(), exc.details()[:200], b""))
    assert crashes == []
    assert {400, 200} <= statuses  # the requests reached both refusals and answers


class BrokenModel:
    """A model on a raw socket answering each request with a randomly broken V2 answer (a
    wrong type somewhere, a cut binary part, a status other than 200, a body not JSON)."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/v2/models/{name}/infer"

    def answer(self) -> bytes:
        with self.lock:
            rng = self.rng
            status = rng.choice((200,) * 8 + (201, 204, 400, 503))
            headers = b"content-type: application/json\r\n"
            if rng.random() < 0.35:
                body, extra = in_binary(broken(ANSWER, rng), rng)
                length = rng.choice((extra["inference-header-content-length"],) * 3 + ("0", "x"))
                headers = b"inference-header-content-length: " + length.encode() + b"\r\n"
            elif rng.random() < 0.9:
                body = json.dumps(broken(ANSWER, rng)).encode()
            else:
                body = rng.choice((b"not json", b"", b"{", b"[1,2]", b"null"))
        head = b"HTTP/1.1 %d X\r\n%scontent-length: %d\r\n\r\n" % (status, headers, len(body))
        return head + body

    def _serve(self, client: socket.socket) -> None:
        done: list[bool] = []

        class Reader:
            def on_message_complete(self) -> None:
                done.append(True)

        parser = httptools.HttpRequestParser(Reader())
        with client:
            while chunk := client.recv(65536):
                parser.feed_data(chunk)
                while done:
                    done.pop()
                    client.sendall(self.answer())

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def __enter__(self) -> BrokenModel:
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept (close alone does not)
        self._acceptor.join(5)
        self.sock.close()


@pytest.mark.parametrize("name", ["sequence", "ensemble", "switch"])
def test_broken_answers_are_named_or_passed_on_never_a_crash(name: str, both_edges: str) -> None:
    with BrokenModel(f"{name}-{both_edges}") as model:
        nodes = {
            "sequence": {"root": {"routerType": "Sequence", "steps": [
                {"serviceUrl": model.url("a")}, {"serviceUrl": model.url("b")}]}},
            "ensemble": {"root": {"routerType": "Ensemble", "steps": [
                {"name": "a", "serviceUrl": model.url("a")},
                {"name": "b", "serviceUrl": model.url("b"), "dependency": "Soft"}]}},
            "switch": {"root": {"routerType": "Sequence", "steps": [
                {"serviceUrl": model.url("a")}, {"nodeName": "s"}]},
                "s": {"routerType": "Switch", "steps": [
                    {"serviceUrl": model.url("b"), "condition": "outputs.0.data.0 > 1"}]}},
        }[name]  # fmt: skip
        app = RouterApp(load({"name": "g", "nodes": nodes}), RouterSettings(retries=0))
        crashes, statuses = [], set()
        rng = random.Random(name)
        with serve_router(app) as (base, _), httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(150):
                asked: dict[str, Any] = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1.0, 2.0, 3.0, 4.0]}]}  # fmt: skip
                if rng.random() < 0.3:  # binary outputs: the answers' raw parts are read
                    asked["parameters"] = {"binary_data_output": True}
                r = client.post("/v2/models/g/infer", json=asked)
                statuses.add(r.status_code)
                if _crashed(r.status_code, r.content):
                    crashes.append((r.status_code, r.text[:300]))
    assert crashes == []
    assert 200 in statuses and len(statuses) > 2
