"""The idle clock of scale-to-zero components: when did a component last serve (pure).

A sample is what the component's ready pods say on /metrics: the sum of
`modelplane_inference_requests_total` and of `modelplane_inference_in_flight` (a graph's
router: `modelplane_router_requests_total` and `modelplane_router_in_flight_requests`). The clock
restarts whenever the sample changes (a request was answered, a pod came or went) or a
request is in flight; a component idle for its `scaleToZeroAfterSeconds` goes to zero.
Times are `time.monotonic()` seconds; an operator restart restarts every clock (never early).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

REQUESTS = "modelplane_inference_requests_total"
IN_FLIGHT = "modelplane_inference_in_flight"
# a graph's router says the same in its own names
ROUTER_REQUESTS = "modelplane_router_requests_total"
ROUTER_IN_FLIGHT = "modelplane_router_in_flight_requests"


@dataclass(frozen=True)
class Sample:
    """One reading of a component: which pods answered, requests answered, in flight now."""

    pods: tuple[str, ...]
    requests: float
    in_flight: float


def reading(text: str) -> tuple[float, float]:
    """(requests answered, requests in flight) of one pod's /metrics: a model server's or a
    router's, whichever it serves."""
    sums = metric_sums(text, (REQUESTS, IN_FLIGHT, ROUTER_REQUESTS, ROUTER_IN_FLIGHT))
    return sums[REQUESTS] + sums[ROUTER_REQUESTS], sums[IN_FLIGHT] + sums[ROUTER_IN_FLIGHT]


def metric_sums(text: str, wanted: tuple[str, ...] = (REQUESTS, IN_FLIGHT)) -> dict[str, float]:
    """Sum of every series of each wanted metric in a Prometheus text exposition."""
    sums = dict.fromkeys(wanted, 0.0)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name not in sums:
            continue
        rest = line.rsplit("}", 1)[1].split() if "}" in line else line.split()[1:]
        try:
            sums[name] += float(rest[0])
        except (ValueError, IndexError):
            continue
    return sums


def served_since(reference: Sample, sample: Sample) -> bool:
    """During a handover (parked, pods still up): did the component serve since `reference`?

    A changed reading (a request answered, a pod came or went) or a request in flight is
    service; the clock's own restarts (an operator restart, an unknown reading) are not.
    """
    return sample.in_flight > 0 or sample != reference


class IdleClock:
    """Per component: since when nothing changed. `observe` says how long it has been idle."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[Sample | None, float]] = {}

    def observe(self, key: Hashable, sample: Sample | None, now: float) -> float:
        """Record a reading (None: unknown, e.g. a pod did not answer) at `now`; idle seconds.

        An unknown or busy reading, or the first one, restarts the clock.
        """
        previous = self._last.get(key)
        busy = sample is None or sample.in_flight > 0
        if busy or previous is None or previous[0] != sample:
            self._last[key] = (sample, now)
            return 0.0
        return now - previous[1]

    def forget(self, key: Hashable) -> None:
        """Drop a component's clock (it went to zero, or is no longer scale-to-zero)."""
        self._last.pop(key, None)

    def tracked(self) -> list[Hashable]:
        """The components with a running clock."""
        return list(self._last)
