"""Reading a REST request body: the shared edge's reader, its refusals as this server's errors."""

from __future__ import annotations

from modelplane.edge import asgi
from modelplane.edge.asgi import Receive, Scope
from modelplane.edge.encoding import decode_body
from modelplane.edge.errors import BodyRejected, BodyTooLarge, UnsupportedEncoding
from modelplane.model_server.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType


async def read_body(scope: Scope, receive: Receive, limit: int, decode: bool = True) -> bytes:
    """The request body (edge.asgi.read_body): 413 over `limit`, 400 when it cannot be read.

    A client that leaves raises the edge's ClientDisconnected.
    """
    try:
        return await asgi.read_body(scope, receive, limit, decode)
    except BodyRejected as exc:
        raise _refusal(exc) from None


def decoded(body: bytes, encoding: str | None, limit: int) -> bytes:
    """A whole body with its content-encoding undone (edge.encoding.decode_body): 413 when it
    inflates past `limit`, 400 when it does not decode."""
    if encoding is None:
        return body
    try:
        return decode_body(body, encoding, limit)
    except BodyRejected as exc:
        raise _refusal(exc) from None


def _refusal(exc: BodyRejected) -> InvalidInput:
    """The edge's refusal of a body as this server's error: 413, 415 or 400."""
    if isinstance(exc, BodyTooLarge):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, UnsupportedEncoding):
        return UnsupportedMediaType(str(exc))
    return InvalidInput(str(exc))
