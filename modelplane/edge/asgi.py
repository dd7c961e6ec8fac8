"""Raw ASGI pieces of an HTTP edge: read a body under a limit, send a response, run lifespan,
and run an ASGI app on one whole request of the lean edge (`serve_whole`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from modelplane.edge.encoding import decode_body
from modelplane.edge.errors import BodyTooLarge, ClientDisconnected, too_large
from modelplane.edge.h1server import Request, Response
from modelplane.edge.h1wire import Headers, header_value

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """The value of a request header (`name` in lower case, as ASGI servers pass names)."""
    return header_value(scope["headers"], name)


async def read_body(scope: Scope, receive: Receive, limit: int, decode: bool = True) -> bytes:
    """The whole request body with its content-encoding undone, never more than `limit` bytes.

    A declared Content-Length over the limit is refused before reading; so is a body that
    grows past it while arriving or while inflating (BodyTooLarge). A client that leaves
    raises ClientDisconnected; a body that does not decode raises BadEncoding. With
    ``decode=False`` the body is returned as sent, for a caller that undoes the coding itself.
    """
    declared = encoding = None
    for key, value in scope["headers"]:
        if key == b"content-length":
            declared = value
        elif key == b"content-encoding":
            encoding = value.decode("latin-1")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(too_large(limit, int(declared)))
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body if encoding is None or not decode else decode_body(body, encoding, limit)


async def send_response(
    send: Send, status: int, body: bytes, headers: Headers, head: bool = False
) -> None:
    """Send one whole response with its content-length (no body bytes for a HEAD request)."""
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def lifespan(
    receive: Receive, send: Send, startup: Hook | None = None, shutdown: Hook | None = None
) -> None:
    """Answer the ASGI lifespan protocol, running the hooks at startup and shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if startup is not None:
                await startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if shutdown is not None:
                await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def serve_whole(app: ASGIApp, request: Request) -> Response:
    """Run an ASGI app on one whole request (`h1server`'s) and collect its whole answer:
    status, headers (less content-length, which the edge writes) and body.

    The body is given at the first `receive`; a later one waits until the app has answered
    and then says the client left, as a server's does once the response is sent.
    """
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode("latin-1"),
        "query_string": request.query,
        "root_path": "",
        "headers": request.headers,
        "client": None,
        "server": None,
    }
    answered = asyncio.Event()
    given = False
    status = 500
    headers: Headers = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": request.body, "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [(k, v) for k, v in message.get("headers", ()) if k != b"content-length"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    finally:
        answered.set()
    return status, headers, b"".join(chunks)
