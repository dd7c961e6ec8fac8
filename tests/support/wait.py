"""A bounded poller for tests: wait until a predicate returns something truthy."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """Raised when a predicate stays falsy for the whole timeout."""


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.2,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Call `predicate` until it returns a truthy value (returned) or `timeout` seconds pass.

    Exceptions from the predicate propagate. `message` (or a callable producing it, evaluated
    only on timeout) names what was awaited in the error.
    """
    deadline = time.monotonic() + timeout
    attempts = 0
    last: T | None = None
    while True:
        attempts += 1
        last = predicate()
        if last:
            return last
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            raise WaitTimeout(
                f"timed out after {timeout:.1f}s ({attempts} attempts) waiting for {text}; "
                f"last value: {last!r}"
            )
        time.sleep(min(interval, remaining))
