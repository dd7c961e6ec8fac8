"""Prometheus metrics of one router: latency per node and per step, errors, retries, in-flight.

Each router owns its registry (tests run several in one process), and label children for
every node and step are bound once at start so the request path only observes. They are
`modelplane.fastmetrics`' lock-free ones: the router updates them from its event loop only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from modelplane.fastmetrics import CountChild, FastCounter, FastGauge, FastHistogram
from modelplane.router.graph import Graph

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class RouterMetrics:
    """The router's collectors, with label children pre-bound per node and step."""

    def __init__(self, graph: Graph, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        g = graph.name
        self._requests = FastCounter(
            "modelplane_router_requests",
            "Graph requests answered, by HTTP status code.",
            ["graph", "code"],
            registry=self.registry,
        )
        self._request_latency = FastHistogram(
            "modelplane_router_request_duration_seconds",
            "Time to answer a graph request.",
            ["graph"],
            buckets=BUCKETS,
            registry=self.registry,
        ).labels(g)
        self.in_flight = FastGauge(
            "modelplane_router_in_flight_requests",
            "Graph requests being processed.",
            ["graph"],
            registry=self.registry,
        ).labels(g)
        node_latency = FastHistogram(
            "modelplane_router_node_duration_seconds",
            "Time spent executing a node.",
            ["graph", "node", "router_type"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        step_latency = FastHistogram(
            "modelplane_router_step_duration_seconds",
            "Time spent executing a step (all attempts).",
            ["graph", "node", "step"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._step_errors = FastCounter(
            "modelplane_router_step_errors",
            "Failed steps, by reason (an HTTP status code, timeout, unreachable, deadline, chain; "
            "failover: the failed step's request was handed to another step).",
            ["graph", "node", "step", "reason"],
            registry=self.registry,
        )
        self._retries = FastCounter(
            "modelplane_router_step_retries",
            "Retried attempts of a step.",
            ["graph", "node", "step"],
            registry=self.registry,
        )
        self.node_latency = {
            n.name: node_latency.labels(g, n.name, n.router_type) for n in graph.nodes.values()
        }
        self.step_latency = {
            s.label: step_latency.labels(g, s.node, s.label)
            for n in graph.nodes.values()
            for s in n.steps
        }
        self._graph = g
        self._codes: dict[int, CountChild] = {}

    def request_done(self, status: int, seconds: float) -> None:
        """Count one answered request."""
        child = self._codes.get(status)
        if child is None:
            child = self._codes[status] = self._requests.labels(self._graph, str(status))
        child.inc()
        self._request_latency.observe(seconds)

    def step_error(self, node: str, step: str, reason: str) -> None:
        """Count one failed step."""
        self._step_errors.labels(self._graph, node, step, reason).inc()

    def retried(self, node: str, step: str, count: int) -> None:
        """Count retried attempts of a step."""
        self._retries.labels(self._graph, node, step).inc(count)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
