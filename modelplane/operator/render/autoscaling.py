"""HorizontalPodAutoscaler (autoscaling/v2) of a component or router (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelplane.api import Resource
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.meta import Obj, child

Server = Literal["model", "router"]

# The Pods metrics prometheus-adapter serves to the HPA, by server and scaleMetric: a rate of
# the request counter and the in-flight gauge of the pods' /metrics (docs/metrics.md). The
# adapter's rules that make them are the chart's (charts/modelplane/templates/
# adapter-rules.yaml); a test holds the two together.
POD_METRICS: dict[tuple[Server, str], str] = {
    ("model", "rps"): "modelplane_inference_requests_per_second",
    ("model", "concurrency"): "modelplane_inference_in_flight",
    ("router", "rps"): "modelplane_router_requests_per_second",
    ("router", "concurrency"): "modelplane_router_in_flight_requests",
}


@dataclass(frozen=True)
class Scaling:
    """Replica bounds and the metric to follow, as written in a spec (None = unset), and
    which server's metrics the pods serve."""

    min_replicas: int | None
    max_replicas: int | None
    metric: str | None
    target: int | None
    server: Server

    @property
    def low(self) -> int:
        """Fewest replicas (default 1; 0 scales to zero when idle)."""
        return 1 if self.min_replicas is None else self.min_replicas

    @property
    def high(self) -> int:
        """Most replicas (default: the minimum, at least 1, i.e. no autoscaling)."""
        return max(self.low, self.max_replicas or 0, 1)

    @property
    def autoscaled(self) -> bool:
        """An HPA exists only when the bounds leave it room above one replica."""
        return self.high > max(1, self.low)

    @property
    def fixed_replicas(self) -> int | None:
        """The Deployment's `replicas`: None when an HPA, or the idle clock and the activator
        (minReplicas 0), own it."""
        return None if self.autoscaled or self.low == 0 else self.low


def metric_spec(scaling: Scaling, config: OperatorConfig) -> Obj:
    """The HPA metric: resource utilization (cpu, memory), or the average over the pods of
    a Pods metric (rps, concurrency) with scaleTarget per pod.

    The API refuses rps and concurrency without scaleTarget, and where the pods do not run
    the model server or the router; a spec that got past it anyway is an error here too.
    """
    metric = scaling.metric or "cpu"
    if metric in ("rps", "concurrency"):
        if scaling.target is None:
            raise ValueError(f"scaleMetric {metric} needs scaleTarget")
        return {
            "type": "Pods",
            "pods": {
                "metric": {"name": POD_METRICS[(scaling.server, metric)]},
                "target": {"type": "AverageValue", "averageValue": str(scaling.target)},
            },
        }
    if metric not in ("cpu", "memory"):
        raise ValueError(f"scaleMetric {metric} is not supported")
    return {
        "type": "Resource",
        "resource": {
            "name": metric,
            "target": {
                "type": "Utilization",
                "averageUtilization": scaling.target or config.default_scale_target,
            },
        },
    }


def hpa(
    name: str, owner: Resource, labels: dict[str, str], scaling: Scaling, config: OperatorConfig
) -> Obj | None:
    """HPA scaling the Deployment `name`; None when min == max."""
    if not scaling.autoscaled:
        return None
    obj = child("autoscaling/v2", "HorizontalPodAutoscaler", name, owner, labels)
    obj["spec"] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": max(1, scaling.low),
        "maxReplicas": scaling.high,
        "metrics": [metric_spec(scaling, config)],
    }
    return obj
