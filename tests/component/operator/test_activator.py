"""The activator and the idle clock on real sockets: a model pod is an HTTP server on
127.0.0.1 that a fake API (an in-memory Kube with the same calls) "starts" when scaled."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from modelplane.operator import names
from modelplane.operator.activator import Activator
from modelplane.operator.config import OperatorConfig
from modelplane.operator.idler import Idler

Obj = dict[str, Any]
NS = "ns"
HOST = "iris-ns.models.test"


class World:
    """The few API objects the activator and the idle clock read, and their scale calls."""

    def __init__(self, pod_port: int, start_delay: float | None, idle_seconds: int = 300) -> None:
        self.replicas = 0
        self.pod_ready = False
        self.start_delay = start_delay  # None: a pod never becomes ready
        self.scaled: list[int] = []
        self.annotations: dict[str, str] = {}
        self.slice_addresses = ["10.0.0.5"]
        self.service: Obj = {
            "metadata": {
                "name": "iris-predictor",
                "namespace": NS,
                "labels": {names.SCALE_TO_ZERO_LABEL: "true"},
                "annotations": {
                    names.SCALE_TARGET_ANNOTATION: "iris-predictor",
                    names.IDLE_AFTER_ANNOTATION: str(idle_seconds),
                    names.HOSTS_ANNOTATION: f"iris-predictor,iris-predictor.{NS},{HOST}",
                },
            },
            "spec": {
                "clusterIP": "10.96.0.10",
                "ports": [{"name": "http", "targetPort": pod_port}],
            },
        }
        self.loop = asyncio.get_running_loop()

    def list(self, kind: str, namespace: str | None, selector: str | None = None) -> list[Obj]:
        if kind == "Service":
            return [self.service]
        if kind == "EndpointSlice":
            return [{"endpoints": [{"addresses": self.slice_addresses}]}]
        if kind == "Pod":
            if self.replicas == 0:
                return []
            conditions = [{"type": "Ready", "status": "True" if self.pod_ready else "False"}]
            return [
                {
                    "metadata": {"name": "iris-predictor-abc", "creationTimestamp": "t"},
                    "status": {"podIP": "127.0.0.1", "conditions": conditions},
                }
            ]
        raise AssertionError(kind)

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        assert (kind, namespace, name) == ("Deployment", NS, "iris-predictor")
        return {
            "metadata": {"annotations": dict(self.annotations)},
            "spec": {"replicas": self.replicas, "selector": {"matchLabels": {"app": "iris"}}},
        }

    def patch(self, kind: str, namespace: str, name: str, body: Obj) -> None:
        assert (kind, namespace, name) == ("Deployment", NS, "iris-predictor")
        for key, value in body.get("metadata", {}).get("annotations", {}).items():
            if value is None:
                self.annotations.pop(key, None)
            else:
                self.annotations[key] = value
        if "replicas" in body.get("spec", {}):
            self.scale(kind, namespace, name, body["spec"]["replicas"])

    def scale(self, kind: str, namespace: str, name: str, replicas: int) -> None:
        self.scaled.append(replicas)
        self.replicas = replicas
        self.pod_ready = False
        if replicas and self.start_delay is not None:
            self.loop.call_soon_threadsafe(
                self.loop.call_later, self.start_delay, setattr, self, "pod_ready", True
            )


@pytest.fixture
async def model_pod() -> Any:
    """A model server's stand-in on 127.0.0.1: answers infer with the request's Host."""
    state = {"requests": 0, "in_flight": 0}

    async def infer(request: web.Request) -> web.Response:
        state["requests"] += 1
        body = await request.json()
        return web.json_response({"model_name": "iris", "echo": body, "host": request.host})

    async def metrics(_: web.Request) -> web.Response:
        if state.get("metrics_broken"):
            return web.Response(status=500)
        text = (
            "# TYPE modelplane_inference_requests_total counter\n"
            f'modelplane_inference_requests_total{{model="iris",outcome="success"}} {state["requests"]}\n'
            f'modelplane_inference_in_flight{{model="iris"}} {state["in_flight"]}\n'
        )
        return web.Response(text=text)

    app = web.Application()
    app.router.add_post("/v2/models/iris/infer", infer)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port, state
    await runner.cleanup()


async def start_activator(world: World, **settings: Any) -> tuple[Activator, str]:
    config = OperatorConfig(activator_port=1, activator_service="sys/act", **settings)
    activator = Activator(world, config)  # type: ignore[arg-type]
    await activator.start("127.0.0.1", 0)
    assert activator._runner is not None
    port = activator._runner.addresses[0][1]
    return activator, f"http://127.0.0.1:{port}"


async def post(session: aiohttp.ClientSession, url: str, host: str = HOST) -> tuple[int, Obj]:
    async with session.post(
        f"{url}/v2/models/iris/infer", json={"inputs": []}, headers={"Host": host}
    ) as answer:
        return answer.status, json.loads(await answer.read())


async def test_twenty_requests_at_zero_are_held_woken_once_and_all_answered(
    model_pod: Any,
) -> None:
    port, state = model_pod
    world = World(port, start_delay=0.6)
    activator, url = await start_activator(world)
    try:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(post(session, url) for _ in range(20)))
    finally:
        await activator.close()
    assert [status for status, _ in answers] == [200] * 20
    assert all(body["host"] == HOST for _, body in answers)  # forwarded as sent
    assert world.scaled == [1]  # one wake for all of them
    assert state["requests"] == 20


async def test_a_wake_past_the_timeout_is_503_model_is_starting(model_pod: Any) -> None:
    port, _ = model_pod
    world = World(port, start_delay=None)
    activator, url = await start_activator(world, wake_timeout_seconds=0.5)
    try:
        async with aiohttp.ClientSession() as session:
            status, body = await post(session, url)
    finally:
        await activator.close()
    assert status == 503
    assert "is starting" in body["error"] and "0.5 s" in body["error"]
    assert world.scaled == [1]


async def test_requests_beyond_the_bound_are_503_at_once(model_pod: Any) -> None:
    port, _ = model_pod
    world = World(port, start_delay=None)
    activator, url = await start_activator(world, wake_timeout_seconds=1, max_held_requests=2)
    try:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(post(session, url) for _ in range(3)))
    finally:
        await activator.close()
    messages = sorted(body["error"] for _, body in answers)
    assert [s for s, _ in answers] == [503, 503, 503]
    assert sum("too many requests are waiting" in m for m in messages) == 1


async def test_a_host_that_names_no_scale_to_zero_model_is_404(model_pod: Any) -> None:
    port, _ = model_pod
    world = World(port, start_delay=0.1)
    activator, url = await start_activator(world)
    try:
        async with aiohttp.ClientSession() as session:
            status, body = await post(session, url, host="other.example")
    finally:
        await activator.close()
    assert status == 404 and "other.example" in body["error"]
    assert world.scaled == []


async def test_idle_clock_parks_then_scales_to_zero_after_its_seconds_without_requests(
    model_pod: Any,
) -> None:
    port, state = model_pod
    world = World(port, start_delay=0.0, idle_seconds=1)
    world.replicas, world.pod_ready = 1, True
    config = OperatorConfig(activator_port=1, activator_service="sys/act", handover_seconds=0.5)
    idler = Idler(world, config, leading=lambda: True)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        await idler.check_once(session)  # the clock starts
        state["requests"] += 1  # a request: the clock restarts
        await asyncio.sleep(0.6)
        await idler.check_once(session)
        await asyncio.sleep(0.6)
        await idler.check_once(session)  # 0.6 s idle: not yet
        assert world.annotations == {} and world.scaled == []
        state["in_flight"] = 1  # busy: never idle
        await asyncio.sleep(1.1)
        await idler.check_once(session)
        assert world.annotations == {} and world.scaled == []
        state["in_flight"] = 0
        await idler.check_once(session)
        await asyncio.sleep(1.1)
        await idler.check_once(session)  # idle: parked (the Service goes to the activator)
        assert world.annotations == {names.PARKED_ANNOTATION: "true"} and world.scaled == []
        state["requests"] += 1  # served during the handover: unparked
        await idler.check_once(session)
        assert world.annotations == {} and world.scaled == []
        await asyncio.sleep(1.1)
        await idler.check_once(session)  # parked again
        assert world.annotations == {names.PARKED_ANNOTATION: "true"}
        await asyncio.sleep(0.6)
        await idler.check_once(session)  # the handover is over: 0 replicas
    assert world.scaled == [0] and world.annotations == {}


async def test_idle_clock_keeps_a_model_up_while_the_activator_has_no_address(
    model_pod: Any,
) -> None:
    port, _ = model_pod
    world = World(port, start_delay=0.0, idle_seconds=1)
    world.replicas, world.pod_ready, world.slice_addresses = 1, True, []
    config = OperatorConfig(activator_port=1, activator_service="sys/act")
    idler = Idler(world, config, leading=lambda: True)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        await idler.check_once(session)
        await asyncio.sleep(1.1)
        await idler.check_once(session)
    assert world.scaled == []


async def test_a_parked_model_stays_parked_across_an_operator_restart_and_unknown_readings(
    model_pod: Any,
) -> None:
    # A new leader (or a restarted operator) finds a Deployment parked by another: its idle
    # clock starts at 0, which is no request; only a changed reading unparks.
    port, state = model_pod
    world = World(port, start_delay=0.0, idle_seconds=3600)
    world.replicas, world.pod_ready = 1, True
    world.annotations = {names.PARKED_ANNOTATION: "true"}
    config = OperatorConfig(activator_port=1, activator_service="sys/act", handover_seconds=0.5)
    idler = Idler(world, config, leading=lambda: True)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        await idler.check_once(session)  # the first reading is the reference
        assert world.annotations == {names.PARKED_ANNOTATION: "true"} and world.scaled == []
        state["metrics_broken"] = 1  # an unknown reading: no evidence, no decision
        await asyncio.sleep(0.6)
        await idler.check_once(session)
        assert world.annotations == {names.PARKED_ANNOTATION: "true"} and world.scaled == []
        state["metrics_broken"] = 0
        await idler.check_once(session)  # unchanged since the reference, handover over
    assert world.scaled == [0] and world.annotations == {}


async def test_a_parked_model_that_serves_after_a_restart_is_unparked(model_pod: Any) -> None:
    port, state = model_pod
    world = World(port, start_delay=0.0, idle_seconds=3600)
    world.replicas, world.pod_ready = 1, True
    world.annotations = {names.PARKED_ANNOTATION: "true"}
    config = OperatorConfig(activator_port=1, activator_service="sys/act", handover_seconds=60)
    idler = Idler(world, config, leading=lambda: True)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as session:
        await idler.check_once(session)
        assert world.annotations == {names.PARKED_ANNOTATION: "true"}
        state["in_flight"] = 1  # a request on a connection opened before the handover
        await idler.check_once(session)
    assert world.annotations == {} and world.scaled == []
