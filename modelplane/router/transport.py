"""Transports: how the router sends one POST upstream. One small interface, two clients.

The production client is `h1.H1Transport` (keep-alive pools per upstream), chosen by
measurement over aiohttp and httpx (docs/router.md). ``HttpxTransport`` wraps an injected
``httpx.AsyncClient``; unit tests give it an ``httpx.MockTransport``.

``post`` takes the attempt's time limit (``limit`` seconds): a transport that can arm it on its own connection does
so (one timer, where ``asyncio.timeout`` costs a task cancellation's bookkeeping per call).
Both raise only ``TimeoutError`` (no answer within ``limit``) and ``ConnectionFailed`` (could
not connect, connection dropped: worth a retry); every HTTP status is an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import httpx

from modelplane.edge.v2 import HEADER_LENGTH
from modelplane.router.errors import ConnectionFailed


class Reply(NamedTuple):
    """An upstream's answer: an HTTP status and body, or (gRPC) a ModelInferResponse.

    A tuple: made once per upstream call, it is cheaper to build than a frozen dataclass.
    """

    status: int
    body: bytes
    content_type: bytes
    header_length: int | None = None  # V2 binary extension: length of the JSON header
    message: Any = None  # gRPC: the ModelInferResponse of a successful call


class Transport(Protocol):
    """Sends one POST (or, for a model's metadata, a GET) and reads the whole answer."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], limit: float | None = None
    ) -> Reply:
        """POST body to url; TimeoutError when no whole answer came within `limit` seconds."""
        ...

    async def get(self, url: str, limit: float | None = None) -> Reply:
        """GET url (off the request path: a model's metadata and configuration)."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


class HttpxTransport:
    """A Transport over an injected httpx.AsyncClient."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], limit: float | None = None
    ) -> Reply:
        try:
            async with asyncio.timeout(limit):
                response = await self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        content_type = response.headers.get("content-type", "application/json")
        length = response.headers.get(HEADER_LENGTH)
        return Reply(
            response.status_code,
            response.content,
            content_type.encode("latin-1"),
            int(length) if length and length.isdigit() else None,
        )

    async def get(self, url: str, limit: float | None = None) -> Reply:
        try:
            async with asyncio.timeout(limit):
                response = await self.client.get(url)
        except httpx.TimeoutException as exc:
            raise TimeoutError(str(exc)) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
        content_type = response.headers.get("content-type", "application/json")
        return Reply(response.status_code, response.content, content_type.encode("latin-1"))

    async def aclose(self) -> None:
        await self.client.aclose()
