"""The idle clock's pure parts: metric sums, the clock, and what counts as service while parked."""

from __future__ import annotations

from modelplane.operator.idle import IdleClock, Sample, metric_sums, reading, served_since

TEXT = """# TYPE modelplane_inference_requests_total counter
modelplane_inference_requests_total{model="a",outcome="success"} 3
modelplane_inference_requests_total{model="b",outcome="error"} 2
modelplane_inference_in_flight{model="a"} 1
other_metric 7
modelplane_inference_in_flight{model="b"} not-a-number
"""


def test_metric_sums_add_every_series_and_skip_the_unreadable() -> None:
    assert metric_sums(TEXT) == {
        "modelplane_inference_requests_total": 5.0,
        "modelplane_inference_in_flight": 1.0,
    }


def test_the_clock_restarts_on_change_busy_or_unknown_and_counts_otherwise() -> None:
    clock = IdleClock()
    quiet = Sample(pods=("p",), requests=4, in_flight=0)
    assert clock.observe("k", quiet, 100.0) == 0.0  # first reading
    assert clock.observe("k", quiet, 130.0) == 30.0
    assert clock.observe("k", Sample(("p",), 5, 0), 140.0) == 0.0  # a request answered
    assert clock.observe("k", Sample(("p",), 5, 0), 150.0) == 10.0
    assert clock.observe("k", Sample(("p",), 5, 1), 160.0) == 0.0  # busy
    assert clock.observe("k", None, 170.0) == 0.0  # unknown
    clock.forget("k")
    assert clock.tracked() == []


def test_served_since_is_a_changed_reading_or_a_request_in_flight() -> None:
    parked = Sample(pods=("p",), requests=4, in_flight=0)
    assert not served_since(parked, Sample(("p",), 4, 0))
    assert served_since(parked, Sample(("p",), 5, 0))
    assert served_since(parked, Sample(("p",), 4, 1))
    assert served_since(parked, Sample(("p", "q"), 4, 0))  # a pod came


def test_a_reading_comes_from_a_model_server_or_a_router() -> None:
    model = (
        'modelplane_inference_requests_total{model="a",outcome="success"} 3\n'
        'modelplane_inference_in_flight{model="a"} 1\n'
    )
    router = (
        "# TYPE modelplane_router_requests counter\n"
        'modelplane_router_requests_total{graph="g",code="200"} 7\n'
        'modelplane_router_requests_total{graph="g",code="503"} 2\n'
        'modelplane_router_requests_created{graph="g",code="200"} 1.7e9\n'
        'modelplane_router_in_flight_requests{graph="g"} 0\n'
    )
    assert reading(model) == (3.0, 1.0)
    assert reading(router) == (9.0, 0.0)
