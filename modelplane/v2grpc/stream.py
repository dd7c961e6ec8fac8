"""Triton's streaming inference (`ModelStreamInfer`) over a server's own unary answer.

Every request on the stream is answered on it, in the order sent. Up to WINDOW requests run at
once; while that many are unanswered, reading the stream waits (and HTTP/2 flow control holds
the client back).
`answer` turns one request into its `ModelStreamInferResponse` and never raises for a request
that fails: the failure is that response's `error_message`, and the stream goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

WINDOW = 32


async def answer_stream(
    requests: AsyncIterable[Any], answer: Callable[[Any], Awaitable[Any]]
) -> AsyncIterator[Any]:
    """The answers to `requests`, in order, as they come."""
    pending: asyncio.Queue[asyncio.Future[Any] | None] = asyncio.Queue()
    slots = asyncio.Semaphore(WINDOW)

    async def read() -> None:
        try:
            async for request in requests:
                await slots.acquire()
                pending.put_nowait(asyncio.ensure_future(answer(request)))
        finally:
            pending.put_nowait(None)

    reader = asyncio.ensure_future(read())
    try:
        while (next_answer := await pending.get()) is not None:
            done = await next_answer
            slots.release()
            yield done
        await reader  # a stream that broke while being read ends the RPC with its error
    finally:
        reader.cancel()
        while not pending.empty():
            if (left := pending.get_nowait()) is not None:
                left.cancel()
