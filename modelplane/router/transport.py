"""Transports: how the router sends one POST upstream. One small interface, two clients.

``AiohttpTransport`` is the production client: one pooled ``aiohttp.ClientSession``. It was
chosen over ``httpx.AsyncClient`` by measurement (benchmarks/router_overhead.py, docs/router.md):
on this machine an httpx call cost about 1.5-3 ms of CPU against about 0.25 ms for aiohttp,
which alone would break the router's 1 ms overhead budget. ``HttpxTransport`` wraps an injected
``httpx.AsyncClient``; unit tests give it an ``httpx.MockTransport``.

Both raise only ``TimeoutError`` (for client-side timeouts) and ``ConnectionFailed`` (could
not connect, connection dropped: worth a retry); every HTTP status is an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import httpx

from modelplane.edge.v2 import HEADER_LENGTH
from modelplane.router.errors import ConnectionFailed


@dataclass(frozen=True, slots=True)
class Reply:
    """An upstream's answer: an HTTP status and body, or (gRPC) a ModelInferResponse."""

    status: int
    body: bytes
    content_type: bytes
    header_length: int | None = None  # V2 binary extension: length of the JSON header
    message: Any = None  # gRPC: the ModelInferResponse of a successful call


class Transport(Protocol):
    """Sends one POST and reads the whole answer."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST body to url."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


class HttpxTransport:
    """A Transport over an injected httpx.AsyncClient."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        try:
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

    async def aclose(self) -> None:
        await self.client.aclose()


class AiohttpTransport:
    """A Transport over one pooled aiohttp.ClientSession (created inside the running loop)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    @classmethod
    def pooled(cls, max_connections: int, keepalive: float = 30.0) -> AiohttpTransport:
        """A session with a connection pool shared by every upstream."""
        connector = aiohttp.TCPConnector(
            limit=max_connections, keepalive_timeout=keepalive, ttl_dns_cache=60
        )
        timeout = aiohttp.ClientTimeout(total=None)  # deadlines are enforced per step
        return cls(
            aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=True)
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                content = await response.read()
                content_type = response.headers.get("Content-Type", "application/json")
                length = response.headers.get(HEADER_LENGTH)
                return Reply(
                    response.status,
                    content,
                    content_type.encode("latin-1"),
                    int(length) if length and length.isdigit() else None,
                )
        except TimeoutError:
            raise
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            raise ConnectionFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc

    async def aclose(self) -> None:
        await self.session.close()
