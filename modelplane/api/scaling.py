"""Scaling fields' rules, shared by a predictor, a transformer and a graph's router: replicas,
the scale metric and its target, scale to zero (CEL rules for the CRDs, and the same checks in
Python for the API types)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

ScaleMetric = Literal["cpu", "memory", "concurrency", "rps"]

REPLICAS_RULE = {
    "rule": "!has(self.minReplicas) || !has(self.maxReplicas)"
    " || self.minReplicas <= self.maxReplicas",
    "message": "minReplicas must be less than or equal to maxReplicas",
    "fieldPath": ".minReplicas",
}
# rps and concurrency are Pods metrics that prometheus-adapter serves from the model server's
# /metrics (docs/operator.md, Autoscaling). Only a model predictor's container is the model
# server: custom containers and a transformer have no such metrics, so they are refused there.
RESOURCE_METRIC = (
    "!has(self.scaleMetric) || self.scaleMetric == 'cpu' || self.scaleMetric == 'memory'"
)
METRIC_NEEDS_MODEL_RULE = {
    "rule": f"{RESOURCE_METRIC} || has(self.model)",
    "message": "scaleMetric rps and concurrency read the model server's request metrics: they "
    "need a model predictor (custom containers scale on cpu or memory)",
    "fieldPath": ".scaleMetric",
}
TRANSFORMER_METRIC_RULE = {
    "rule": RESOURCE_METRIC,
    "message": "a transformer scales on cpu or memory: rps and concurrency read the model "
    "server's request metrics, which a transformer's containers do not serve",
    "fieldPath": ".scaleMetric",
}
SCALE_TARGET_RULE = {
    "rule": f"{RESOURCE_METRIC} || has(self.scaleTarget)",
    "message": "scaleMetric rps and concurrency need scaleTarget: requests per second, or "
    "requests in flight, per replica",
    "fieldPath": ".scaleTarget",
}
SCALE_TO_ZERO_RULE = {
    "rule": "!has(self.scaleToZeroAfterSeconds) || (has(self.minReplicas) && self.minReplicas == 0)",
    "message": "scaleToZeroAfterSeconds needs minReplicas: 0",
    "fieldPath": ".scaleToZeroAfterSeconds",
}
ZERO_NEEDS_MODEL_RULE = {
    "rule": "!has(self.minReplicas) || self.minReplicas > 0 || has(self.model)",
    "message": "minReplicas: 0 (scale to zero) needs a model predictor: the idle clock reads the "
    "model server's request metrics",
    "fieldPath": ".minReplicas",
}
NO_ZERO_RULE = {
    "rule": "!has(self.minReplicas) || self.minReplicas > 0",
    "message": "only a predictor scales to zero: minReplicas must be at least 1 here",
    "fieldPath": ".minReplicas",
}
DEFAULT_SCALE_TO_ZERO_AFTER = 300


def check_replicas(min_replicas: int | None, max_replicas: int | None) -> None:
    """Raise when minReplicas exceeds maxReplicas (mirrors REPLICAS_RULE)."""
    if min_replicas is not None and max_replicas is not None and min_replicas > max_replicas:
        raise ValueError("minReplicas must be less than or equal to maxReplicas")


class ScalesToZero:
    """minReplicas 0 and scaleToZeroAfterSeconds, read the same way on a predictor and on a
    graph's spec (its router): the mixin gives both the same two properties and check."""

    if TYPE_CHECKING:
        min_replicas: int | None
        scale_to_zero_after_seconds: int | None

    @property
    def scales_to_zero(self) -> bool:
        """minReplicas 0: idles to 0 replicas and wakes on request."""
        return self.min_replicas == 0

    @property
    def idle_seconds(self) -> int:
        """Seconds without requests before scaling to zero."""
        return self.scale_to_zero_after_seconds or DEFAULT_SCALE_TO_ZERO_AFTER

    def check_idle_seconds(self) -> None:
        """Raise for scaleToZeroAfterSeconds without minReplicas 0 (mirrors
        SCALE_TO_ZERO_RULE)."""
        if self.scale_to_zero_after_seconds is not None and self.min_replicas != 0:
            raise ValueError(SCALE_TO_ZERO_RULE["message"])


def is_pods_metric(metric: str | None) -> bool:
    """rps or concurrency: a Pods metric read from the servers' /metrics (not cpu or memory)."""
    return metric not in (None, "cpu", "memory")


def check_scale_target(metric: str | None, target: int | None) -> None:
    """Raise for rps or concurrency without a target (mirrors SCALE_TARGET_RULE)."""
    if is_pods_metric(metric) and target is None:
        raise ValueError(str(SCALE_TARGET_RULE["message"]))


def check_not_zero(min_replicas: int | None) -> None:
    """Raise for minReplicas 0 where scale to zero is not offered (mirrors NO_ZERO_RULE)."""
    if min_replicas == 0:
        raise ValueError(NO_ZERO_RULE["message"])
