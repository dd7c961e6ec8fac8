"""The lean HTTP/1.1 server on real sockets: raw clients for the protocol's corners, httpx as an
independent client, and an app that records what it was given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from modelplane.edge.asgi import read_body, send_response
from modelplane.edge.errors import BodyTooLarge, ClientDisconnected
from modelplane.edge.h1server import HIGH_WATER, LeanServer

LIMIT = 8 << 20


class Recorder:
    """Echoes the request body; `/slow` waits, `/fail` raises, `/stream` streams its answer,
    `/wait-disconnect` reads until the client leaves."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.disconnects = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        path = scope["path"]
        if path == "/fail":
            raise RuntimeError("boom")
        if path == "/wait-disconnect":
            try:
                await read_body(scope, receive, LIMIT)
            except ClientDisconnected:
                self.disconnects += 1
            return
        try:
            body = await read_body(scope, receive, LIMIT)
        except BodyTooLarge as exc:
            await send_response(send, 413, str(exc).encode(), [])
            return
        if path == "/slow":
            await asyncio.sleep(0.3)
        if path.startswith("/stream"):
            headers = [(b"content-length", b"6")] if path == "/stream-sized" else []
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            for part in (b"ab", b"cd", b"ef"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        answer = b"%d:" % len(body) + body[:64]
        await send_response(
            send, 200, answer, [(b"x-path", path.encode())], scope["method"] == "HEAD"
        )


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[tuple[LeanServer, Recorder, int]]:
    app = Recorder()
    server = LeanServer(app, **options)
    port = await server.start("127.0.0.1", 0)
    try:
        yield server, app, port
    finally:
        await server.close(grace=2)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One response: status line, headers (lower-case names), body (content-length or chunked)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
    elif headers.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = b""
    return lines[0], headers, body


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: t\r\n%scontent-length: %d\r\n\r\n%s" % (
        path.encode(),
        extra,
        len(body),
        body,
    )


async def closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(1), 5) == b""


async def test_keep_alive_and_pipelined_requests_are_answered_in_order() -> None:
    async with serving() as (_, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/a", b"one"))
        status, headers, body = await read_response(reader)
        assert (status, body) == (b"HTTP/1.1 200 OK", b"3:one")
        assert headers[b"x-path"] == b"/a" and b"date" in headers
        writer.write(post("/slow", b"two") + post("/b", b"three!"))  # pipelined in one write
        assert (await read_response(reader))[2] == b"3:two"
        assert (await read_response(reader))[2] == b"6:three!"
        writer.close()
    assert [s["path"] for s in app.scopes] == ["/a", "/slow", "/b"]


async def test_an_independent_client_reads_what_it_sent() -> None:
    async with (
        serving() as (_, app, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        r = await client.post("/v2/models/m%20x/infer?q=1", content=b"x" * 1000)
        head = await client.head("/h")
    assert (r.status_code, r.content) == (200, b"1000:" + b"x" * 64)
    scope = app.scopes[0]
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == (
        "/v2/models/m x/infer",
        b"/v2/models/m%20x/infer",
        b"q=1",
    )
    assert scope["client"][0] == "127.0.0.1" and scope["server"][1] == port
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "2", b"")


async def test_expect_100_continue_and_a_chunked_request_body() -> None:
    async with serving() as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /c HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n"
        )
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == (
            b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        writer.write(b"hello")
        assert (await read_response(reader))[2] == b"5:hello"
        writer.write(
            b"POST /c HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )
        assert (await read_response(reader))[2] == b"7:abcdefg"
        writer.close()


async def test_streamed_answers_are_chunked_unless_their_length_is_known() -> None:
    async with serving() as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/stream", b""))
        _, headers, body = await read_response(reader)
        assert (headers[b"transfer-encoding"], body) == (b"chunked", b"abcdef")
        writer.write(post("/stream-sized", b""))
        _, headers, body = await read_response(reader)
        assert (headers[b"content-length"], body) == (b"6", b"abcdef")
        assert b"transfer-encoding" not in headers
        writer.close()


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /a HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx",
        b"POST /a HTTP/1.0\r\ncontent-length: 1\r\n\r\nx",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_a_client_that_asks_to_close_gets_its_answer_then_the_close(
    request_head: bytes,
) -> None:
    async with serving() as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request_head)
        _, headers, body = await read_response(reader)
        assert (headers[b"connection"], body) == (b"close", b"1:x")
        assert await closed(reader)
        writer.close()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nhost: t\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n", b"400"),
        (post("/fail", b"x"), b"500"),
    ],
    ids=["head-too-large", "malformed", "upgrade", "app-fails"],
)
async def test_requests_that_cannot_be_served_get_a_json_error_and_a_close(
    data: bytes, status: bytes
) -> None:
    async with serving() as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        line, headers, body = await read_response(reader)
        assert line.split()[1] == status
        assert headers[b"content-type"] == b"application/json" and body.startswith(b'{"error":')
        assert await closed(reader)
        writer.close()


async def test_an_answer_before_the_whole_body_arrived_closes_the_connection() -> None:
    """The app refuses a body over its limit by the declared length; the rest is never read."""
    async with serving() as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /a HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\nxx" % (LIMIT + 1))
        line, headers, _ = await read_response(reader)
        assert (line.split()[1], headers[b"connection"]) == (b"413", b"close")
        assert await closed(reader)
        writer.close()


async def test_a_large_body_streams_to_the_app_under_the_high_water_mark() -> None:
    size = 3 * HIGH_WATER + 17
    async with serving() as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/big", b"z" * size))
        assert (await read_response(reader))[2].startswith(b"%d:zzz" % size)
        writer.close()


async def test_idle_connections_close_silently_after_the_keep_alive() -> None:
    async with serving(keep_alive=0.3) as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/slow", b"x"))  # in progress longer than the keep-alive: not idle
        assert (await read_response(reader))[2] == b"1:x"
        started = time.monotonic()
        assert await closed(reader)  # then idle: closed with nothing sent
        assert 0.2 < time.monotonic() - started < 2
        writer.close()


async def test_a_client_that_leaves_mid_body_is_seen_by_the_app() -> None:
    async with serving() as (_, app, port):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /wait-disconnect HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\nab")
        await asyncio.sleep(0.1)
        writer.close()
        for _ in range(50):
            if app.disconnects:
                break
            await asyncio.sleep(0.02)
    assert app.disconnects == 1


async def test_close_finishes_requests_in_progress_and_refuses_new_ones() -> None:
    app = Recorder()
    server = LeanServer(app)
    port = await server.start("127.0.0.1", 0)
    busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    busy_writer.write(post("/slow", b"late"))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(server.close(grace=5))
    _, headers, body = await read_response(busy_reader)
    assert (body, headers[b"connection"]) == (b"4:late", b"close")
    assert await closed(idle_reader)
    await closing
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    busy_writer.close()
    idle_writer.close()
