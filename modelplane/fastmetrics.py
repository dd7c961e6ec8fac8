"""Lock-free counters, gauges and histograms for one process, exposed through a registry.

prometheus_client takes a lock per update and walks the buckets in Python; a request touches
about ten metrics, which made up several per cent of a small model's request and of a router
hop. These update plain numbers instead: the router's metrics (from its event loop and its
HTTP threads) and the model server's with one worker. With several workers the model server
uses prometheus_client's multiprocess metrics instead.

Threads of one process may update them without a lock: each update is one read-modify-write
of a number or a list item with no Python call between the read and the write, and CPython
3.11 hands the GIL to another thread only at calls, function entries and backward jumps; a
new label's child is added with one `dict.setdefault`. `tests/unit/test_fast_metrics.py`
updates them from several threads switching every microsecond and counts every update.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector


class CountChild:
    """One labelled counter or gauge value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class HistogramChild:
    """One labelled histogram: a count per bucket (not cumulative) and the sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, amount: float) -> None:
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.total += amount


class _Family(Collector):
    kind = ""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
        **_: object,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self.children: dict[tuple[str, ...], object] = {}
        if registry is not None:
            registry.register(self)


class FastCounter(_Family):
    """A counter family; `name` is given without the `_total` suffix, as prometheus_client's."""

    def labels(self, *values: str) -> CountChild:
        child = self.children.get(values)
        if child is None:  # setdefault: two threads adding one label keep one child
            child = self.children.setdefault(values, CountChild())
        assert isinstance(child, CountChild)
        return child

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self.children.items()):
            assert isinstance(child, CountChild)
            family.add_metric(list(values), child.value)
        return [family]


class FastGauge(FastCounter):
    """A gauge family."""

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self.children.items()):
            assert isinstance(child, CountChild)
            family.add_metric(list(values), child.value)
        return [family]


class FastHistogram(_Family):
    """A histogram family with fixed bucket bounds."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = (),
        registry: CollectorRegistry | None = None,
        **rest: object,
    ) -> None:
        super().__init__(name, documentation, labelnames, registry, **rest)
        self.bounds = [float(b) for b in buckets]

    def labels(self, *values: str) -> HistogramChild:
        child = self.children.get(values)
        if child is None:
            child = self.children.setdefault(values, HistogramChild(self.bounds))
        assert isinstance(child, HistogramChild)
        return child

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self.children.items()):
            assert isinstance(child, HistogramChild)
            running, buckets = 0, []
            for bound, count in zip([*child.bounds, float("inf")], child.counts, strict=True):
                running += count
                buckets.append((_bound(bound), float(running)))
            family.add_metric(list(values), buckets, child.total)
        return [family]


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))
