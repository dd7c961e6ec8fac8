"""Reading a REST request body: the shared edge's reader, its refusals as this server's errors."""

from __future__ import annotations

from modelplane.edge import asgi
from modelplane.edge.asgi import Receive, Scope
from modelplane.edge.encoding import decode_body
from modelplane.edge.errors import BodyRejected, BodyTooLarge
from modelplane.model_server.errors import InvalidInput, PayloadTooLarge


async def read_body(scope: Scope, receive: Receive, limit: int, decode: bool = True) -> bytes:
    """The request body (edge.asgi.read_body): 413 over `limit`, 400 when it cannot be read.

    A client that leaves raises the edge's ClientDisconnected.
    """
    try:
        return await asgi.read_body(scope, receive, limit, decode)
    except BodyTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except BodyRejected as exc:
        raise InvalidInput(str(exc)) from None


def decoded(body: bytes, encoding: str | None, limit: int) -> bytes:
    """A whole body with its content-encoding undone (edge.encoding.decode_body): 413 when it
    inflates past `limit`, 400 when it does not decode."""
    if encoding is None:
        return body
    try:
        return decode_body(body, encoding, limit)
    except BodyTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except BodyRejected as exc:
        raise InvalidInput(str(exc)) from None
