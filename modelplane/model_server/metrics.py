"""Prometheus metrics of the model server: one registry per server, summed across --workers.

Names are documented in docs/metrics.md. With several worker processes the values live in
prometheus_client's multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, one fresh directory per
run, set by the parent before workers start) and every scrape adds them up.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge as PromGauge
from prometheus_client import Histogram as PromHistogram
from prometheus_client.metrics_core import Metric

from modelplane.fastmetrics import FastCounter, FastGauge, FastHistogram
from modelplane.model_server.worker_metrics import exposition_registry, multiprocess_dir

MODEL_STATES = ("loading", "ready", "unloading", "unavailable")
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Countable(Protocol):
    """A counter or gauge child."""

    def inc(self, amount: float = 1.0) -> None: ...


class Settable(Protocol):
    """A gauge child."""

    def set(self, value: float) -> None: ...


class Observable(Protocol):
    """A histogram child."""

    def observe(self, amount: float) -> None: ...


@dataclass(frozen=True, slots=True)
class RequestMeter:
    """The metric children one (model, version, protocol) touches per request, looked up once."""

    success: Countable
    failure: Countable
    success_latency: Observable
    failure_latency: Observable
    last_inference: Settable


_COMPUTE: ContextVar[list[float] | None] = ContextVar("modelplane_compute", default=None)


@contextlib.contextmanager
def request_compute() -> Iterator[list[float]]:
    """Hold the compute time told (`ModelMeter.computed`) while one request runs, so that the
    data plane records compute input, infer and output together when the request completes:
    a statistics read then never sees a request half counted (perf_analyzer checks that the
    three counts agree)."""
    held: list[float] = []
    token = _COMPUTE.set(held)
    try:
        yield held
    finally:
        _COMPUTE.reset(token)


@dataclass(frozen=True, slots=True)
class ModelMeter:
    """Per-model execution metrics; also the batch queue's observer."""

    queue: Observable
    compute_input: Observable
    compute_infer: Observable
    compute_output: Observable
    batch: Observable
    executions: Countable
    inferences: Countable
    by_batch: Callable[[int], tuple[Countable, Countable]]  # executions, seconds of a size

    def queued(self, seconds: float) -> None:
        """Time one request waited before its execution started."""
        self.queue.observe(seconds)

    def computed(self, seconds: float) -> None:
        """The execution that served one request took `seconds` (a batch's time is told to
        each of its requests, as Triton counts compute_infer). Inside `request_compute` it
        is held for the data plane to record with the request's other phases."""
        held = _COMPUTE.get()
        if held is None:
            self.compute_infer.observe(seconds)
        else:
            held.append(seconds)

    def executed(self, batch: int, seconds: float) -> None:
        """One execution with this many inferences (first-dimension rows), taking `seconds`."""
        self.executions.inc()
        self.inferences.inc(batch)
        self.batch.observe(batch)
        count, total = self.by_batch(batch)
        count.inc()
        total.inc(seconds)


class ServerMetrics:
    """All metrics of one server process and their text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiproc = multiprocess_dir()
        reg = self.registry
        # one process: lock-free numbers updated on the event loop; workers: shared files
        Counter: Any = PromCounter if self._multiproc else FastCounter
        Gauge: Any = PromGauge if self._multiproc else FastGauge
        Histogram: Any = PromHistogram if self._multiproc else FastHistogram
        model = ("model", "version")
        self.requests = Counter(
            "modelplane_inference_requests",
            "Inference requests answered, by model, version, protocol and outcome.",
            (*model, "protocol", "outcome"),
            registry=reg,
        )
        self.latency = Histogram(
            "modelplane_inference_request_duration_seconds",
            "Time from request received to response ready, at the protocol edge.",
            (*model, "protocol", "outcome"),
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.in_flight = Gauge(
            "modelplane_inference_in_flight",
            "Inference requests being handled now (summed over workers).",
            ("model",),
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.last_inference = Gauge(
            "modelplane_inference_last_timestamp_seconds",
            "Unix time of the last successful inference (the latest over workers).",
            model,
            multiprocess_mode="max",
            registry=reg,
        )
        self.queue = Histogram(
            "modelplane_inference_queue_duration_seconds",
            "Time a request waited before its execution started: in the batch queue, or for a "
            "free model instance when the model is not batched.",
            model,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        compute = {}
        for phase, text in (
            ("input", "decoding request tensors and merging a batch"),
            ("infer", "running the backend on one batch"),
            ("output", "splitting a batch and encoding the response"),
        ):
            compute[phase] = Histogram(
                f"modelplane_inference_compute_{phase}_duration_seconds",
                f"Time spent {text}.",
                model,
                buckets=LATENCY_BUCKETS,
                registry=reg,
            )
        self.compute = compute
        self.batch = Histogram(
            "modelplane_inference_batch_size",
            "Inferences (first-dimension rows) per backend execution.",
            model,
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.executions = Counter(
            "modelplane_inference_executions",
            "Backend executions; inferences_total / executions_total is the average batch.",
            model,
            registry=reg,
        )
        self.batch_executions = Counter(
            "modelplane_inference_batch_executions",
            "Backend executions by batch size (first-dimension rows; 1 when not batched).",
            (*model, "batch_size"),
            registry=reg,
        )
        self.batch_seconds = Counter(
            "modelplane_inference_batch_compute_infer_seconds",
            "Seconds of backend execution by batch size.",
            (*model, "batch_size"),
            registry=reg,
        )
        self.inferences = Counter(
            "modelplane_inferences",
            "Inferences (first-dimension rows) executed by the backend.",
            model,
            registry=reg,
        )
        self.model_state = Gauge(
            "modelplane_model_state",
            "1 for the state each model is in (summed over workers), 0 for the others.",
            ("model", "state"),
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.model_memory = Gauge(
            "modelplane_model_memory_bytes",
            "Memory a loaded model takes, measured at its load (0 when not loaded), by device "
            "(host: resident set growth; gpu: device memory growth).",
            ("model", "device"),
            multiprocess_mode="livesum",
            registry=reg,
        )
        self.evictions = Counter(
            "modelplane_model_evictions",
            "Models unloaded to make room for another (least recently used first).",
            ("model",),
            registry=reg,
        )
        self.loads = Counter(
            "modelplane_model_loads",
            "Model loads begun, by trigger: api (the repository extension) or request (an "
            "inference for a registered model that was not loaded).",
            ("model", "trigger"),
            registry=reg,
        )
        if self._multiproc is None:
            ProcessCollector(registry=reg)
            PlatformCollector(registry=reg)
        self._requests: dict[tuple[str, str, str], RequestMeter] = {}
        self._models: dict[tuple[str, str], ModelMeter] = {}
        self._flights: dict[str, Any] = {}

    def begin(self, model: str) -> float:
        """Count a request to `model` in flight; returns its start time for end()."""
        gauge = self._flights.get(model)
        if gauge is None:
            gauge = self._flights[model] = self.in_flight.labels(model)
        gauge.inc()
        return time.perf_counter()

    def end(self, model: str, version: str, protocol: str, ok: bool, started: float) -> None:
        """Take the request out of flight; count its outcome and latency."""
        elapsed = time.perf_counter() - started
        self._flights[model].dec()
        meter = self.request_meter(model, version, protocol)
        if ok:
            meter.success.inc()
            meter.success_latency.observe(elapsed)
            meter.last_inference.set(time.time())  # a timestamp for statistics, not a deadline
        else:
            meter.failure.inc()
            meter.failure_latency.observe(elapsed)

    def request_meter(self, model: str, version: str, protocol: str) -> RequestMeter:
        """The cached metric children for requests to one model version over one protocol."""
        key = (model, version, protocol)
        meter = self._requests.get(key)
        if meter is None:
            meter = RequestMeter(
                success=self.requests.labels(model, version, protocol, "success"),
                failure=self.requests.labels(model, version, protocol, "failure"),
                success_latency=self.latency.labels(model, version, protocol, "success"),
                failure_latency=self.latency.labels(model, version, protocol, "failure"),
                last_inference=self.last_inference.labels(model, version),
            )
            self._requests[key] = meter
        return meter

    def model_meter(self, model: str, version: str) -> ModelMeter:
        """The cached per-model execution metric children."""
        key = (model, version)
        meter = self._models.get(key)
        if meter is None:
            meter = ModelMeter(
                queue=self.queue.labels(model, version),
                compute_input=self.compute["input"].labels(model, version),
                compute_infer=self.compute["infer"].labels(model, version),
                compute_output=self.compute["output"].labels(model, version),
                batch=self.batch.labels(model, version),
                executions=self.executions.labels(model, version),
                inferences=self.inferences.labels(model, version),
                by_batch=self._by_batch(model, version),
            )
            self._models[key] = meter
        return meter

    def _by_batch(self, model: str, version: str) -> Callable[[int], tuple[Countable, Countable]]:
        """The per-batch-size children of one model version, looked up once per size."""
        children: dict[int, tuple[Countable, Countable]] = {}

        def lookup(size: int) -> tuple[Countable, Countable]:
            pair = children.get(size)
            if pair is None:
                label = str(size)
                pair = children[size] = (
                    self.batch_executions.labels(model, version, label),
                    self.batch_seconds.labels(model, version, label),
                )
            return pair

        return lookup

    def set_model_state(self, model: str, state: str) -> None:
        """Mark the one state a model is in (loading, ready, unloading, unavailable)."""
        state = state.lower()
        if state not in MODEL_STATES:
            raise ValueError(f"unknown model state {state!r}; expected one of {MODEL_STATES}")
        for name in MODEL_STATES:
            self.model_state.labels(model, name).set(1 if name == state else 0)

    def set_model_memory(self, model: str, host: int, gpu: int) -> None:
        """The memory a loaded model takes (0, 0 once it is unloaded)."""
        self.model_memory.labels(model, "host").set(host)
        self.model_memory.labels(model, "gpu").set(gpu)

    def count_eviction(self, model: str) -> None:
        self.evictions.labels(model).inc()

    def count_load(self, model: str, trigger: str) -> None:
        """A load begun by `trigger` (api or request)."""
        self.loads.labels(model, trigger).inc()

    def families(self) -> list[Metric]:
        """Every metric family with its samples (summed over workers in multiprocess mode)."""
        return list(exposition_registry(self.registry, self._multiproc).collect())

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition (summed over workers in multiprocess mode) and its content type."""
        return generate_latest(
            exposition_registry(self.registry, self._multiproc)
        ), CONTENT_TYPE_LATEST


class Metered:
    """One inference request at a protocol edge, as a context manager: in flight inside,
    then counted with its latency, a success when the block raised nothing.

    Set `version` inside the block once the model version that answered is known.
    """

    __slots__ = ("_metrics", "_model", "_protocol", "_started", "version")

    def __init__(
        self, metrics: ServerMetrics | None, model: str, version: str | None, protocol: str
    ) -> None:
        self._metrics = metrics
        self._model = model
        self._protocol = protocol
        self._started = 0.0
        self.version = version or ""

    def __enter__(self) -> Metered:
        if self._metrics is not None:
            self._started = self._metrics.begin(self._model)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._metrics is not None:
            ok = kind is None
            self._metrics.end(self._model, self.version, self._protocol, ok, self._started)
