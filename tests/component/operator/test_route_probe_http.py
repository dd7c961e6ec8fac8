"""`route_probe.probe` over real sockets, against a stand-in Ingress controller on 127.0.0.1
that answers as Traefik does for a host it does not route (404 "404 page not found") and
forwards routed hosts to a model server's ``/v2/health/ready``."""

from __future__ import annotations

import asyncio
import socket

from modelplane.edge.h1server import LeanServer, Request, Response
from modelplane.edge.h1wire import header_value
from modelplane.operator.route_probe import probe


class Controller:
    """Routes the hosts in `routed`; its own 404 for every other host."""

    def __init__(self) -> None:
        self.routed: set[str] = set()
        self.seen: list[tuple[str, str | None]] = []

    async def __call__(self, request: Request) -> Response:
        host = header_value(request.headers, b"host")
        self.seen.append((request.path, host))
        if host in self.routed and request.path == "/v2/health/ready":
            return 200, [(b"content-type", b"application/json")], b'{"ready":true}'
        return 404, [(b"content-type", b"text/plain")], b"404 page not found\n"


async def test_a_host_is_routed_once_the_controller_sends_it_to_the_pods() -> None:
    controller = Controller()
    server = LeanServer(controller)
    port = await server.start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        before = await asyncio.to_thread(probe, base, "m-ns.example.com")
        controller.routed.add("m-ns.example.com")
        after = await asyncio.to_thread(probe, base, "m-ns.example.com")
        other = await asyncio.to_thread(probe, base + "/", "n-ns.example.com")
    finally:
        await server.close()
    assert not before.routed
    assert "answered 404 '404 page not found'" in before.detail
    assert f"GET /v2/health/ready for m-ns.example.com through {base}" in before.detail
    assert after.routed
    assert not other.routed
    assert controller.seen == [("/v2/health/ready", "m-ns.example.com")] * 2 + [
        ("/v2/health/ready", "n-ns.example.com")
    ]


async def test_a_controller_that_cannot_be_reached_or_does_not_answer_is_not_routed() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = await asyncio.to_thread(probe, f"http://127.0.0.1:{port}", "h.example.com")
    assert not refused.routed
    assert "refused" in refused.detail.lower()

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        quiet = await asyncio.to_thread(probe, f"http://127.0.0.1:{port}", "h.example.com", 0.3)
    assert not quiet.routed
    assert "timed out" in quiet.detail
