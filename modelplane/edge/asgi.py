"""Raw ASGI pieces of an HTTP edge: read a body under a limit, send a response, run lifespan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from modelplane.edge.encoding import decode_body
from modelplane.edge.errors import BodyTooLarge, ClientDisconnected

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Hook = Callable[[], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """The value of a request header (`name` in lower case, as ASGI servers pass names)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


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
        size = declared.decode("latin-1")
        raise BodyTooLarge(f"request body of {size} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
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
