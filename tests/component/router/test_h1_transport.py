"""The router's two HTTP/1.1 clients (asyncio `h1`, blocking `h1block`) against raw servers on
real sockets: reuse, staleness, timeouts. Each test runs against both."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from modelplane.router.blocking import drive
from modelplane.router.errors import ConnectionFailed
from modelplane.router.h1 import H1Transport
from modelplane.router.h1block import BlockingH1Transport
from modelplane.router.transport import Reply

Handler = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[bool]]  # -> keep the connection


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP/1.1 server; yields its URL and the number of each request's connection."""
    connections: list[int] = []
    opened = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        number = opened
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                connections.append(number)
                if not await handler(number, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v2/models/m/infer", connections
    finally:
        server.close()


@pytest.fixture(params=["loop", "threads"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Client:
    """One of the router's clients, called as the router calls it: on the loop, or (blocking)
    driven on a thread of its own while the raw server answers on the loop."""

    def __init__(self, kind: str, **options: Any) -> None:
        self.kind = kind
        self.transport = (
            H1Transport(**options) if kind == "loop" else BlockingH1Transport(**options)
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str], **kw: Any) -> Reply:
        if self.kind == "loop":
            return await self.transport.post(url, body, headers, **kw)
        return await asyncio.to_thread(drive, self.transport.post(url, body, headers, **kw))

    async def aclose(self) -> None:
        await self.transport.aclose()


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(body)
        + body
    )


async def echo(number: int, body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(body))
    return True


async def test_one_connection_serves_requests_back_to_back(kind: str) -> None:
    client = Client(kind)
    async with raw_server(echo) as (url, connections):
        replies = [await client.post(url, b'{"n":%d}' % i, {}) for i in range(5)]
    await client.aclose()
    assert [r.body for r in replies] == [b'{"n":%d}' % i for i in range(5)]
    assert connections == [1] * 5


async def test_a_connection_the_server_closed_while_idle_is_replaced_unseen(kind: str) -> None:
    async def once(number: int, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(body))
        return False  # the server's keep-alive ran out: it closes after answering

    client = Client(kind)
    async with raw_server(once) as (url, connections):
        first = await client.post(url, b"1", {})
        await asyncio.sleep(0.05)  # the close reaches the client's idle connection
        second = await client.post(url, b"2", {})
    await client.aclose()
    assert (first.body, second.body) == (b"1", b"2")
    assert connections == [1, 2]


@pytest.mark.parametrize("own_timer", [True, False], ids=["timeout-argument", "cancelled"])
async def test_a_timed_out_call_never_leaves_its_late_answer_to_the_next(
    own_timer: bool, kind: str
) -> None:
    """Timed out by its own timer (the router's path) or cancelled from outside, the late
    answer's connection is closed."""

    async def slow_first(number: int, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if body == b"slow":
            await asyncio.sleep(0.3)
        writer.write(answer(body))
        return True

    if not own_timer and kind == "threads":
        pytest.skip("a blocking call is not cancelled from outside: it has its own limit")
    client = Client(kind)
    async with raw_server(slow_first) as (url, connections):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            if own_timer:
                await client.post(url, b"slow", {}, limit=0.1)
            else:
                async with asyncio.timeout(0.1):
                    await client.post(url, b"slow", {})
        assert time.monotonic() - started < 0.25
        fast = await client.post(url, b"fast", {}, limit=5)
    await client.aclose()
    assert fast.body == b"fast"
    assert connections == [1, 2]  # the timed-out connection was closed, not reused


async def test_chunked_answers_and_binary_headers_are_read_whole(kind: str) -> None:
    async def chunked(number: int, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
            b"inference-header-content-length: 2\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3\r\n{}a\r\n2\r\nbc\r\n0\r\n\r\n"
        )
        return True

    client = Client(kind)
    async with raw_server(chunked) as (url, _):
        reply = await client.post(url, b"x", {"x-request-id": "r1"})
    await client.aclose()
    assert (reply.status, reply.body, reply.header_length) == (200, b"{}abc", 2)
    assert reply.content_type == b"application/octet-stream"


async def test_connection_close_answers_are_not_reused_and_refusals_fail_cleanly(kind: str) -> None:
    async def closing(number: int, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(body, b"connection: close\r\n"))
        return False

    client = Client(kind)
    async with raw_server(closing) as (url, connections):
        for i in range(3):
            assert (await client.post(url, b"%d" % i, {})).body == b"%d" % i
    assert connections == [1, 2, 3]
    with pytest.raises(ConnectionFailed, match="cannot connect"):
        await client.post(url, b"gone", {})  # the server is closed now
    await client.aclose()


async def test_a_connection_nobody_answers_fails_within_the_connect_timeout(kind: str) -> None:
    """A SYN that gets no answer (a pod that is gone; here a listener whose accept queue is
    full, so the kernel drops new SYNs) fails as a connection error, which is retried, rather
    than holding the request until the step's timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # never accepted: they fill the accept queue
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    await asyncio.sleep(0.1)
    transport = Client(kind, connect_timeout=0.3)
    url = f"http://127.0.0.1:{port}/v2/models/m/infer"
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionFailed, match=r"no answer within 0\.3 s"):
            await transport.post(url, b"{}", {}, limit=5)
        assert time.monotonic() - started < 3
        # an attempt's timeout shorter than the connect timeout is the step's timeout
        with pytest.raises(TimeoutError):
            await transport.post(url, b"{}", {}, limit=0.1)
    finally:
        await transport.aclose()
        for filler in fillers:
            filler.close()
        listener.close()
