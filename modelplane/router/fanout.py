"""The order an Ensemble sends its members' requests in: the slowest expected first.

The router writes the members' requests one after another on one event loop, and an upstream
that serves several members reads them in the order they arrive, so the member sent first
starts first. An Ensemble ends when its slowest member answers; sending that member first
lets the others' sending (and their upstreams' reading) overlap its service time instead of
delaying its start. What a member is expected to take is learned from its recent successful
calls; members not yet measured go first, in step order. The answer is merged in step order
whatever the sending order was.
"""

from __future__ import annotations

from collections.abc import Sequence

WEIGHT = 0.2  # of a new latency in the running mean: the last few calls dominate


def launch_order(expected: Sequence[float | None]) -> list[int]:
    """Indexes of members in the order to send them, given each one's expected seconds (None:
    not measured yet): unmeasured first, then the longest expected first; ties keep step
    order."""
    return sorted(
        range(len(expected)),
        key=lambda i: (expected[i] is not None, -(expected[i] or 0.0)),
    )


def updated(previous: float | None, seconds: float) -> float:
    """The running mean of a member's latency after one more successful call."""
    return seconds if previous is None else previous + WEIGHT * (seconds - previous)


class Expected:
    """Each step's expected latency (seconds), learned from its successful calls."""

    __slots__ = ("_seconds",)

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def observe(self, label: str, seconds: float) -> None:
        self._seconds[label] = updated(self._seconds.get(label), seconds)

    def order(self, labels: Sequence[str]) -> list[int]:
        """`launch_order` for the steps with these labels."""
        get = self._seconds.get
        return launch_order([get(label) for label in labels])
