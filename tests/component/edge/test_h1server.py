"""The lean HTTP/1.1 servers on real sockets, each test against both (`h1server` on asyncio,
`h1threads` on a thread per connection): raw clients for the protocol's corners, httpx as an
independent client, and a handler that records what it was given."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from modelplane.edge.h1server import LeanServer, Request, Response
from modelplane.edge.h1threads import ThreadedServer

LIMIT = 1 << 20
Server = LeanServer | ThreadedServer


class Recorder:
    """Echoes the body's length and first bytes; `/slow` waits, `/fail` raises, `/empty`
    answers 204."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    async def __call__(self, request: Request) -> Response:
        self._record(request)
        if request.path == "/slow":
            await asyncio.sleep(0.3)
        return self._answer(request)

    def sync(self, request: Request) -> Response:
        """The same for the threaded server."""
        self._record(request)
        if request.path == "/slow":
            time.sleep(0.3)
        return self._answer(request)

    def _record(self, request: Request) -> None:
        self.requests.append(request)
        if request.path == "/fail":
            raise RuntimeError("boom")

    @staticmethod
    def _answer(request: Request) -> Response:
        if request.path == "/empty":
            return 204, [], b""
        answer = b"%d:" % len(request.body) + request.body[:64]
        return 200, [(b"x-path", request.path.encode())], answer


@pytest.fixture(params=["asyncio", "threads"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which server serves the test."""
    return str(request.param)


async def start(kind: str, app: Recorder, **options: Any) -> tuple[Server, int]:
    server: Server
    if kind == "asyncio":
        server = LeanServer(app, **options)
        return server, await server.start("127.0.0.1", 0)
    server = ThreadedServer(app.sync, **options)
    return server, server.start("127.0.0.1", 0)


async def stop(server: Server, grace: float = 30.0) -> None:
    if isinstance(server, LeanServer):
        await server.close(grace=grace)
    else:
        await asyncio.to_thread(server.close, grace)


@asynccontextmanager
async def serving(kind: str, **options: Any) -> AsyncIterator[tuple[Server, Recorder, int]]:
    app = Recorder()
    server, port = await start(kind, app, max_body=LIMIT, **options)
    try:
        yield server, app, port
    finally:
        await stop(server, grace=2)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One response: status line, headers (lower-case names), body (by its content-length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0"))
    body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
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


async def test_keep_alive_and_pipelined_requests_are_answered_in_order(kind: str) -> None:
    async with serving(kind) as (_, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/a", b"one"))
        status, headers, body = await read_response(reader)
        assert (status, body) == (b"HTTP/1.1 200 OK", b"3:one")
        assert headers[b"x-path"] == b"/a" and b"date" in headers
        assert b"connection" not in headers
        writer.write(post("/slow", b"two") + post("/b", b"three!"))  # pipelined in one write
        assert (await read_response(reader))[2] == b"3:two"
        assert (await read_response(reader))[2] == b"6:three!"
        writer.close()
    assert [r.path for r in app.requests] == ["/a", "/slow", "/b"]


async def test_an_http_1_0_client_that_asks_for_keep_alive_is_told_it_is_kept(kind: str) -> None:
    async with serving(kind) as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in (b"a", b"bc"):
            writer.write(
                b"POST /k HTTP/1.0\r\nconnection: keep-alive\r\ncontent-length: %d\r\n\r\n%s"
                % (len(body), body)
            )
            _, headers, answer = await read_response(reader)
            assert (headers[b"connection"], answer) == (b"keep-alive", b"%d:%s" % (len(body), body))
        writer.close()


async def test_an_independent_client_reads_what_it_sent(kind: str) -> None:
    async with (
        serving(kind) as (_, app, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client,
    ):
        r = await client.post("/v2/models/m%20x/infer?q=1", content=b"x" * 1000)
        head = await client.head("/h")
        empty = await client.get("/empty")
    assert (r.status_code, r.content) == (200, b"1000:" + b"x" * 64)
    request = app.requests[0]
    assert (request.method, request.path, request.query) == ("POST", "/v2/models/m x/infer", b"q=1")
    assert (b"content-length", b"1000") in request.headers  # names in lower case
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "2", b"")
    assert (empty.status_code, "content-length" in empty.headers) == (204, False)


async def test_expect_100_continue_and_a_chunked_request_body(kind: str) -> None:
    async with serving(kind) as (_, _app, port):
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


async def test_a_body_at_the_limit_is_whole_and_one_past_it_is_refused_unread(kind: str) -> None:
    async with serving(kind) as (_, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/big", b"z" * LIMIT))
        assert (await read_response(reader))[2].startswith(b"%d:zzz" % LIMIT)
        # declared too large: answered at once, before a byte of the body, then closed
        writer.write(b"POST /a HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n" % (LIMIT + 1))
        line, headers, body = await read_response(reader)
        assert (line.split()[1], headers[b"connection"]) == (b"413", b"close")
        assert (
            orjson.loads(body)["error"]
            == f"request body of {LIMIT + 1} bytes exceeds the limit of {LIMIT}"
        )
        assert await closed(reader)
        writer.close()
        # chunked, growing past the limit as it arrives
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        chunk = b"y" * (LIMIT // 2 + 1)
        writer.write(b"POST /a HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2)
        line, _, _ = await read_response(reader)
        assert line.split()[1] == b"413"
        assert await closed(reader)
        writer.close()
    assert [r.path for r in app.requests] == ["/big"]  # the handler never saw the others


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /a HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx",
        b"POST /a HTTP/1.0\r\ncontent-length: 1\r\n\r\nx",
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_a_client_that_asks_to_close_gets_its_answer_then_the_close(
    kind: str,
    request_head: bytes,
) -> None:
    async with serving(kind) as (_, _app, port):
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
    ids=["head-too-large", "malformed", "upgrade", "handler-fails"],
)
async def test_requests_that_cannot_be_served_get_a_json_error_and_a_close(
    kind: str, data: bytes, status: bytes
) -> None:
    async with serving(kind) as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        line, headers, body = await read_response(reader)
        assert line.split()[1] == status
        assert headers[b"content-type"] == b"application/json"
        assert isinstance(orjson.loads(body)["error"], str)
        assert await closed(reader)
        writer.close()


async def test_a_head_that_trickles_past_the_header_timeout_gets_408(kind: str) -> None:
    async with serving(kind, header_timeout=0.3) as (_, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /split HTTP/1.1\r\nhost: t\r\n")  # a head in two parts, in time
        await asyncio.sleep(0.1)
        writer.write(b"content-length: 2\r\n\r\nok")
        assert (await read_response(reader))[2] == b"2:ok"
        started = time.monotonic()
        writer.write(b"POST /slow-head HTTP/1.1\r\nhost: t\r\n")  # and never the rest
        line, headers, body = await read_response(reader)
        assert (line.split()[1], headers[b"connection"]) == (b"408", b"close")
        assert orjson.loads(body)["error"] == "request head not received within 0.3 s"
        assert 0.25 < time.monotonic() - started < 2
        assert await closed(reader)
        writer.close()
    assert [r.path for r in app.requests] == ["/split"]


async def test_the_app_formats_the_servers_own_refusals(kind: str) -> None:
    server, port = await start(
        kind, Recorder(), max_body=4, error_body=lambda s, m: b"<%d %s>" % (s, m.encode())
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post("/a", b"12345"))
    assert (await read_response(reader))[
        2
    ] == b"<413 request body of 5 bytes exceeds the limit of 4>"
    writer.close()
    await stop(server)


async def test_idle_connections_close_silently_after_the_keep_alive(kind: str) -> None:
    async with serving(kind, keep_alive=0.3) as (_, _app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/slow", b"x"))  # in progress longer than the keep-alive: not idle
        assert (await read_response(reader))[2] == b"1:x"
        started = time.monotonic()
        assert await closed(reader)  # then idle: closed with nothing sent
        assert 0.2 < time.monotonic() - started < 2
        writer.close()


async def test_a_connection_beyond_the_limit_gets_503_and_a_freed_place_is_served(
    kind: str,
) -> None:
    async with serving(kind, max_connections=2) as (server, app, port):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/third", b"x"))
        status, headers, body = await read_response(reader)
        assert (status, headers[b"connection"]) == (b"HTTP/1.1 503 Service Unavailable", b"close")
        assert orjson.loads(body)["error"] == "too many connections: this server serves at most 2"
        assert await closed(reader)
        writer.close()
        for held_reader, held_writer in held:  # the two within the limit are served as usual
            held_writer.write(post("/held", b"ok"))
            assert (await read_response(held_reader))[2] == b"2:ok"
        held[0][1].close()
        for _ in range(500):  # until the server has seen the close (bounded: 5 s)
            if len(server.connections) == 1:
                break
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/freed", b"ok"))
        assert (await read_response(reader))[2] == b"2:ok"
        writer.close()
        held[1][1].close()
    assert [r.path for r in app.requests] == ["/held", "/held", "/freed"]


async def test_a_client_that_leaves_mid_body_never_reaches_the_handler(kind: str) -> None:
    async with serving(kind) as (_, app, port):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /gone HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\nab")
        await asyncio.sleep(0.1)
        writer.close()
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/after", b"ok"))
        assert (await read_response(reader))[2] == b"2:ok"
        writer.close()
    assert [r.path for r in app.requests] == ["/after"]


async def test_close_finishes_requests_in_progress_and_refuses_new_ones(kind: str) -> None:
    server, port = await start(kind, Recorder())
    busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    busy_writer.write(post("/slow", b"late"))
    await asyncio.sleep(0.05)
    closing = asyncio.create_task(stop(server, grace=5))
    _, headers, body = await read_response(busy_reader)
    assert (body, headers[b"connection"]) == (b"4:late", b"close")
    assert await closed(idle_reader)
    await closing
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    busy_writer.close()
    idle_writer.close()
