"""HorizontalPodAutoscaler (autoscaling/v2) of a component or router (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from modelplane.api import Resource
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.meta import Obj, child


@dataclass(frozen=True)
class Scaling:
    """Replica bounds and the metric to follow, as written in a spec (None = unset)."""

    min_replicas: int | None
    max_replicas: int | None
    metric: str | None
    target: int | None

    @property
    def low(self) -> int:
        """Fewest replicas (default 1)."""
        return 1 if self.min_replicas is None else self.min_replicas

    @property
    def high(self) -> int:
        """Most replicas (default: the minimum, i.e. no autoscaling)."""
        return max(self.low, self.max_replicas or 0)

    @property
    def autoscaled(self) -> bool:
        """An HPA exists only when the bounds leave it room."""
        return self.high > self.low


def metric_spec(scaling: Scaling, config: OperatorConfig) -> Obj:
    """The HPA metric: resource utilization (cpu, memory) or a Pods metric (rps, concurrency)."""
    metric = scaling.metric or "cpu"
    if metric in ("cpu", "memory"):
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
    name = config.rps_metric if metric == "rps" else config.concurrency_metric
    target = scaling.target or (1 if metric == "concurrency" else 10)
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": name},
            "target": {"type": "AverageValue", "averageValue": str(target)},
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
