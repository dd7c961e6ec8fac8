"""The lock-free metric families expose what prometheus_client would: cumulative buckets, le bounds."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from modelplane.fastmetrics import FastCounter, FastGauge, FastHistogram


def test_fast_families_render_like_prometheus_client() -> None:
    registry = CollectorRegistry()
    hist = FastHistogram("t_seconds", "h", ["m"], buckets=(0.1, 1.0), registry=registry)
    count = FastCounter("t_events", "c", ["m"], registry=registry)
    gauge = FastGauge("t_now", "g", ["m"], registry=registry)
    for value in (0.05, 0.1, 0.5, 7.0):  # 0.1 lies on a bound: counted as <= 0.1
        hist.labels("a").observe(value)
    count.labels("a").inc()
    count.labels("a").inc(2)
    gauge.labels("a").inc()
    gauge.labels("a").dec()
    gauge.labels("b").set(5)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    m = (("m", "a"),)
    assert samples[("t_seconds_bucket", (("le", "0.1"), *m))] == 2
    assert samples[("t_seconds_bucket", (("le", "1.0"), *m))] == 3
    assert samples[("t_seconds_bucket", (("le", "+Inf"), *m))] == 4
    assert samples[("t_seconds_count", m)] == 4
    assert abs(samples[("t_seconds_sum", m)] - 7.65) < 1e-9
    assert samples[("t_events_total", m)] == 3
    assert samples[("t_now", m)] == 0
    assert samples[("t_now", (("m", "b"),))] == 5
