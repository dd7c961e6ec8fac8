"""A pod's change wakes only its owner; the initial listing and no-op changes wake nobody."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.handlers import Operator


class Recorder:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, str, str]] = []

    def schedule(self, key: tuple[str, str, str]) -> None:
        self.scheduled.append(key)


def pod_body(waiting: str | None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "kind": "Pod",
        "metadata": {"name": "m-predictor-abc", "namespace": "ns"},
        "status": {"containerStatuses": [{"name": "c", "state": state}]},
    }


def deliver(op: Operator, type_: str | None, body: dict[str, Any]) -> None:
    labels = names.component_labels("m", names.PREDICTOR)
    asyncio.run(
        op.child_event(
            type=type_,
            body=kopf.Body(body),
            labels=labels,  # type: ignore[arg-type]
            namespace="ns",
            name=body["metadata"]["name"],
        )
    )


def test_pod_changes_wake_only_their_owner() -> None:
    op = Operator(OperatorConfig())
    recorder = Recorder()
    op._queue = recorder  # type: ignore[assignment]
    deliver(op, None, pod_body("ContainerCreating"))  # initial listing: a restart does nothing
    deliver(op, "MODIFIED", pod_body("ContainerCreating"))  # nothing that matters changed
    assert recorder.scheduled == []
    deliver(op, "MODIFIED", pod_body("ImagePullBackOff"))
    assert recorder.scheduled == [("InferenceService", "ns", "m")]


def test_pods_are_watched_through_the_managed_by_selector() -> None:
    registry = Operator(OperatorConfig()).registry()
    pods = [
        h
        for h in registry._watching.get_all_handlers()
        if h.selector is not None and h.selector.any_name == "pods"
    ]
    assert len(pods) == 1
    assert pods[0].labels == {names.MANAGED_BY: names.MANAGED_BY_VALUE}
