"""Calling one upstream (REST or gRPC): per-attempt timeout, bounded retries with backoff, a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from modelplane.router.errors import (
    ConnectionFailed,
    GraphDeadlineExceeded,
    StepTimeout,
    Unreachable,
)
from modelplane.router.transport import Reply

RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed attempt is repeated."""

    retries: int = 2
    backoff: float = 0.05
    max_backoff: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based): exponential, capped."""
        return float(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


class Answer(NamedTuple):
    """An upstream's answer and how many attempts it took."""

    reply: Reply
    attempts: int


async def call(
    send: Callable[[float], Awaitable[Reply]],
    *,
    step_timeout: float,
    policy: RetryPolicy,
    deadline: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Answer:
    """Send one request (REST or gRPC): retry refusals and 502/503/504, within the deadline.

    ``send(limit)`` makes one attempt and raises TimeoutError when no answer came within
    ``limit`` seconds. ``deadline`` is a ``time.monotonic()`` instant. Timeouts are not
    retried: a slow model asked again is only slower.
    """
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise GraphDeadlineExceeded()
        limit = min(step_timeout, remaining)
        try:
            reply = await send(limit)
        except TimeoutError as exc:
            if limit < step_timeout:
                raise GraphDeadlineExceeded() from exc
            raise StepTimeout(f"no answer within {step_timeout:g}s") from exc
        except ConnectionFailed as exc:
            if attempt >= policy.retries:
                raise Unreachable(str(exc)) from exc
        else:
            if reply.status not in RETRY_STATUSES or attempt >= policy.retries:
                return Answer(reply, attempt + 1)
        attempt += 1
        pause = policy.delay(attempt)
        if time.monotonic() + pause >= deadline:
            raise GraphDeadlineExceeded()
        await sleep(pause)
