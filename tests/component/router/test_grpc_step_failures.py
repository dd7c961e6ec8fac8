"""gRPC steps that fail: too slow, not there, refusing, or outrun by a Hard member's failure,
through both HTTP edges (on threads, `grpc_block`; on the loop, `grpc_transport`), against a
real gRPC server on 127.0.0.1 that sleeps or aborts as the model name says and records the
calls it saw cancelled."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import grpc
import httpx
import pytest

from modelplane.router.app import RouterApp
from modelplane.router.graph import load
from modelplane.router.settings import RouterSettings
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from tests.component.router.servers import serve_asgi, serve_router
from tests.component.router.upstream_app import Upstream
from tests.support.ports import free_port

pytestmark = pytest.mark.usefixtures("both_edges")  # each test through both HTTP edges

V2_IN = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2], "data": [1.0, 2.0]}]}


class Sleepy(pb_grpc.GRPCInferenceServiceServicer):
    """ModelInfer: `slow` sleeps 2 s, `busy` aborts RESOURCE_EXHAUSTED, any other answers at
    once with its input as output `y`. `cancelled` counts the slow calls the client gave up
    on, `running` those still sleeping."""

    def __init__(self) -> None:
        self.cancelled = 0
        self.running = 0

    async def ModelInfer(  # the generated servicer's name
        self, request: pb.ModelInferRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInferResponse:
        if request.model_name == "busy":
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full")
        if request.model_name == "slow":
            self.running += 1  # on the server's one loop: no lock
            try:
                await asyncio.sleep(2.0)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            finally:
                self.running -= 1
        out = pb.ModelInferResponse.InferOutputTensor(
            name="y", datatype="FP32", shape=list(request.inputs[0].shape)
        )
        answer = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
        if request.raw_input_contents:  # the router sends raw contents
            answer.raw_output_contents.append(request.raw_input_contents[0])
        else:
            out.contents.fp32_contents.extend(request.inputs[0].contents.fp32_contents)
        answer.outputs.append(out)
        return answer


@pytest.fixture(scope="module")
def sleepy() -> Iterator[tuple[Sleepy, str]]:
    """The servicer and its target (host:port), served on a loop of its own."""
    servicer, port = Sleepy(), free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> grpc.aio.Server:
        server = grpc.aio.server()
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        return server

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(0), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def rest() -> Iterator[str]:
    with serve_asgi(Upstream(), lifespan="off") as base:
        yield base


def grpc_step(target: str, model: str, **step: Any) -> dict[str, Any]:
    return {"name": model, "serviceUrl": f"grpc://{target}/v2/models/{model}", **step}


@contextmanager
def router(nodes: dict[str, Any], **settings: Any) -> Iterator[httpx.Client]:
    app = RouterApp(
        load({"name": "g", "nodes": nodes}), RouterSettings(**{"retry_backoff": 0.01, **settings})
    )
    with ExitStack() as stack:
        base, _ = stack.enter_context(serve_router(app))
        yield stack.enter_context(httpx.Client(base_url=base, timeout=10))


def one(step: dict[str, Any], router_type: str = "Sequence") -> dict[str, Any]:
    return {"root": {"routerType": router_type, "steps": [step]}}


def test_a_grpc_step_answers_through_the_edge(sleepy: tuple[Sleepy, str]) -> None:
    _, target = sleepy
    with router(one(grpc_step(target, "echo"))) as c:
        r = c.post("/v2/models/g/infer", json=V2_IN)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == [1.0, 2.0]
    assert r.json()["model_name"] == "g"


def test_a_slow_grpc_step_times_out_with_504_and_its_call_is_cancelled(
    sleepy: tuple[Sleepy, str],
) -> None:
    servicer, target = sleepy
    before = servicer.cancelled
    with router(one(grpc_step(target, "slow", timeout=0.2))) as c:
        start = time.monotonic()
        r = c.post("/", json=V2_IN)
        took = time.monotonic() - start
        deadline = time.monotonic() + 5
        while servicer.cancelled == before and time.monotonic() < deadline:
            time.sleep(0.02)
    assert r.status_code == 504, r.text
    assert r.json()["step"] == "root/slow" and "timed out" in r.json()["error"]
    assert 0.15 < took < 1.5
    assert servicer.cancelled == before + 1  # not left running on the upstream


def test_a_grpc_step_nothing_listens_for_is_unreachable() -> None:
    target = f"127.0.0.1:{free_port()}"
    with router(one(grpc_step(target, "gone", retries=1))) as c:
        r = c.post("/", json=V2_IN)
        metrics = c.get("/metrics").text
    assert r.status_code == 502, r.text
    assert r.json()["step"] == "root/gone" and "unreachable" in r.json()["error"]
    assert "gRPC UNAVAILABLE" in r.json()["cause"]
    assert 'reason="unreachable",step="root/gone"} 1.0' in metrics


def test_a_grpc_refusal_keeps_its_code_as_the_status(sleepy: tuple[Sleepy, str]) -> None:
    _, target = sleepy
    with router(one(grpc_step(target, "busy", retries=0))) as c:
        r = c.post("/", json=V2_IN)
    assert r.status_code == 429, r.text  # RESOURCE_EXHAUSTED, as KServe maps it
    assert r.json()["step"] == "root/busy" and "queue full" in r.text


def test_a_hard_members_failure_ends_the_ensemble_and_cancels_a_slow_grpc_member(
    sleepy: tuple[Sleepy, str], rest: str
) -> None:
    servicer, target = sleepy
    nodes = {
        "root": {
            "routerType": "Ensemble",
            "steps": [
                grpc_step(target, "slow"),
                {
                    "name": "broken",
                    "serviceUrl": f"{rest}/v2/models/broken/infer",
                    "dependency": "Hard",
                    "retries": 0,
                },
                grpc_step(target, "echo"),
            ],
        }
    }
    fds = len(os.listdir("/proc/self/fd"))
    with router(nodes) as c:
        start = time.monotonic()
        answers = [c.post("/", json=V2_IN) for _ in range(3)]
        took = time.monotonic() - start
        deadline = time.monotonic() + 1
        while servicer.running and time.monotonic() < deadline:
            time.sleep(0.02)
    assert [r.status_code for r in answers] == [500] * 3, answers[0].text
    assert {r.json()["step"] for r in answers} == {"root/broken"}
    assert took < 1.5  # the slow member (2 s) did not hold the answers
    assert servicer.running == 0  # each slow call cancelled (or never sent), none left running
    assert len(os.listdir("/proc/self/fd")) <= fds + 2  # no eventfd or socket left open
