"""The activator's gRPC relay on real sockets: a real gRPC server (HTTP/2, grpcio) stands in
for the model pod, which the fake API of test_activator "starts" when scaled; clients are
grpcio channels to the component's relay port on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import grpc
import pytest

from modelplane.operator import names
from modelplane.operator.relay_ports import RELAY_PORTS
from tests.component.operator.test_activator import World, start_activator

METHOD = "/test.Echo/Say"


def free_relay_port() -> int:
    """A port in the relay range that 127.0.0.1 can bind now."""
    for port in RELAY_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in the relay range")


@pytest.fixture
async def grpc_pod() -> Any:
    """A gRPC server on 127.0.0.1 that answers test.Echo/Say with its request, prefixed."""
    calls: dict[str, Any] = {"count": 0, "release": asyncio.Event()}

    async def say(request: bytes, _: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        calls["count"] += 1
        if request == b"held":  # answered once the test releases it
            await calls["release"].wait()
        return b"pod:" + request

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port, calls
    await server.stop(None)


def relayed_world(grpc_port: int, start_delay: float | None) -> tuple[World, int]:
    """A component at zero whose Service claims a relay port and names the pod's grpc port."""
    world = World(1, start_delay=start_delay)  # its http port is not used here
    relay = free_relay_port()
    world.service["metadata"]["annotations"][names.RELAY_PORT_ANNOTATION] = str(relay)
    world.service["spec"]["ports"].append({"name": "grpc", "port": 8081, "targetPort": grpc_port})
    return world, relay


async def until_listening(port: int) -> None:
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise TimeoutError(f"nothing listens on {port}")


async def call(port: int, payload: bytes, deadline: float = 10.0) -> bytes:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        answer: bytes = await channel.unary_unary(METHOD)(payload, timeout=deadline)
        return answer


async def test_grpc_at_zero_is_held_woken_once_and_relayed_to_the_pod(grpc_pod: Any) -> None:
    grpc_port, calls = grpc_pod
    world, relay = relayed_world(grpc_port, start_delay=0.5)
    activator, _ = await start_activator(world)
    try:
        await until_listening(relay)
        assert world.scaled == []  # a connection that sent nothing wakes nothing
        started = time.monotonic()
        answers = await asyncio.gather(*(call(relay, b"%d" % i) for i in range(20)))
        took = time.monotonic() - started
    finally:
        await activator.close()
    assert answers == [b"pod:%d" % i for i in range(20)]  # each on its own connection
    assert calls["count"] == 20
    assert world.scaled == [1]  # one wake for all of them
    assert took >= 0.5  # held until the pod was Ready


async def test_a_grpc_connection_past_the_wake_timeout_is_closed_unavailable(
    grpc_pod: Any,
) -> None:
    grpc_port, calls = grpc_pod
    world, relay = relayed_world(grpc_port, start_delay=None)  # never Ready
    activator, _ = await start_activator(world, wake_timeout_seconds=0.5)
    try:
        await until_listening(relay)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call(relay, b"x", deadline=10)
    finally:
        await activator.close()
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert calls["count"] == 0


async def test_the_relay_stops_listening_when_the_service_no_longer_claims_the_port(
    grpc_pod: Any,
) -> None:
    grpc_port, _ = grpc_pod
    world, relay = relayed_world(grpc_port, start_delay=0.0)
    activator, _ = await start_activator(world)
    try:
        await until_listening(relay)
        del world.service["metadata"]["annotations"][names.RELAY_PORT_ANNOTATION]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", relay)
            except ConnectionRefusedError:
                break
            writer.close()
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"{relay} still listened on 5 s after its claim went")
    finally:
        await activator.close()


async def until(check: Any, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        await asyncio.sleep(0.05)


async def test_a_channel_opened_at_zero_is_handed_back_once_the_service_routes_to_pods(
    grpc_pod: Any,
) -> None:
    """While the Service is parked the relay keeps the channel's connection; once it has its
    selector back, one GOAWAY hands the connection back: the call in flight is answered,
    the client closes the connection, and the channel's next call opens a new one."""
    grpc_port, calls = grpc_pod
    world, relay_port = relayed_world(grpc_port, start_delay=0.2)
    activator, _ = await start_activator(world)
    relay = activator.relay
    assert relay is not None
    try:
        await until_listening(relay_port)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{relay_port}") as channel:
            say = channel.unary_unary(METHOD)
            assert await say(b"woke", timeout=10) == b"pod:woke"
            held = asyncio.ensure_future(say(b"held", timeout=20))
            await until(lambda: calls["count"] == 2, "the held call reached the pod")
            await asyncio.sleep(1.5)  # more than one sync of the relay: still parked
            assert (relay.relayed, relay.handed_back) == (1, 0)
            world.service["spec"]["selector"] = {"app": "iris"}  # the operator unparks it
            await until(lambda: relay.handed_back == 1, "the connection handed back")
            assert not held.done() and relay.relayed == 1  # in flight: the connection stays
            calls["release"].set()
            assert await held == b"pod:held"
            await until(lambda: relay.relayed == 0, "the client closed the handed-back one")
            # the next call opens a new connection (to the pods, behind a real Service)
            assert await say(b"next", timeout=10) == b"pod:next"
    finally:
        await activator.close()
    assert world.scaled == [1]
