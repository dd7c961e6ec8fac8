"""The lock-free metric families expose what prometheus_client would: cumulative buckets, le bounds."""

from __future__ import annotations

import sys
import threading

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


def test_threads_updating_at_once_lose_no_update() -> None:
    """The router updates its metrics from its HTTP threads and its event loop at once: with
    the interpreter switching threads every microsecond, every increment and observation
    counts, and threads adding one new label keep one child."""
    count = FastCounter("t_calls", "c", ["m"])
    gauge = FastGauge("t_busy", "g", ["m"])
    hist = FastHistogram("t_time", "h", ["m"], buckets=(0.5,))
    per_thread, threads = 20_000, 4
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            count.labels("new").inc()
            gauge.labels("x").inc()
            gauge.labels("x").dec()
            hist.labels(str(i % 3)).observe(0.1 * (i % 10))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    assert count.labels("new").value == per_thread * threads
    assert gauge.labels("x").value == 0
    assert sum(sum(hist.labels(str(k)).counts) for k in range(3)) == per_thread * threads
