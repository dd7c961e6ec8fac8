"""Events on transitions people act on: which transitions, what they say, how often."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.operator.events import EventRecorder, Transition, event, transitions

Obj = dict[str, Any]


def status(ready: str | None, reason: str | None = None, message: str = "", url: str = "") -> Obj:
    if ready is None:
        return {}
    cond: Obj = {"type": "Ready", "status": ready}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    doc: Obj = {"conditions": [{"type": "PredictorReady", "status": ready}, cond]}
    if url:
        doc["url"] = url
    return doc


READY = status("True", url="http://m-ns.example.com")
STARTING = status("False", "MinimumReplicasUnavailable", "PredictorReady: 0/1 replicas ready")
LOAD_FAILED = status("False", "ModelLoadFailed", "PredictorReady: model m: bad file")
NO_RUNTIME = status("False", "RuntimeNotRecognized", "runtime 'x' not found")
NO_NODE = status("False", "Unschedulable", "0/1 nodes are available: insufficient nvidia.com/gpu")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (status(None), READY, [Transition("Normal", "Ready", "serving at http://m-ns.example.com")]),
        (STARTING, READY, [Transition("Normal", "Ready", "serving at http://m-ns.example.com")]),
        (READY, READY, []),  # no change, no Event
        (status(None), STARTING, []),  # a first rollout is not news
        (STARTING, STARTING, []),
        (
            READY,
            STARTING,
            [Transition("Warning", "MinimumReplicasUnavailable", f"lost readiness: {STARTING['conditions'][1]['message']}")],
        ),
        (STARTING, LOAD_FAILED, [Transition("Warning", "ModelLoadFailed", "PredictorReady: model m: bad file")]),
        (LOAD_FAILED, LOAD_FAILED, []),
        (status(None), NO_RUNTIME, [Transition("Warning", "RuntimeNotRecognized", "runtime 'x' not found")]),
        (STARTING, NO_NODE, [Transition("Warning", "Unschedulable", NO_NODE["conditions"][1]["message"])]),
        (LOAD_FAILED, STARTING, []),  # recovering is not a failure
    ],
)  # fmt: skip
def test_transitions(before: Obj, after: Obj, expected: list[Transition]) -> None:
    assert transitions(before, after) == expected


OWNER: Obj = {
    "apiVersion": "serving.modelplane.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "m", "namespace": "ns", "uid": "u-1"},
    "status": STARTING,
}


def test_event_object_is_an_events_k8s_io_event_about_its_owner() -> None:
    change = Transition("Warning", "ModelLoadFailed", "x" * 5000)
    doc = event(OWNER, change, "operator-0", 1_700_000_000.25)
    assert doc["apiVersion"] == "events.k8s.io/v1" and doc["kind"] == "Event"
    assert doc["metadata"]["namespace"] == "ns" and doc["metadata"]["name"].startswith("m.")
    assert doc["regarding"] == {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "name": "m",
        "namespace": "ns",
        "uid": "u-1",
    }
    assert (doc["type"], doc["reason"], doc["action"]) == (
        "Warning",
        "ModelLoadFailed",
        "Reconcile",
    )
    assert len(doc["note"]) == 1024  # the API's limit
    assert doc["eventTime"] == "2023-11-14T22:13:20.250000Z"
    assert doc["reportingInstance"] == "operator-0"
    assert (
        event(OWNER, change, "i", 0)["metadata"]["name"]
        != event(OWNER, change, "i", 0)["metadata"]["name"]
    )


def test_recorder_posts_one_event_per_object_and_reason_per_interval() -> None:
    posted: list[Obj] = []
    now = [1000.0]
    recorder = EventRecorder(posted.append, "op", interval=60, clock=lambda: now[0])
    assert recorder.record(OWNER, LOAD_FAILED) == 1
    flipping = {**OWNER, "status": READY}
    for _ in range(50):  # a status that flips back and forth, many passes a minute
        recorder.record(flipping, LOAD_FAILED)
        recorder.record({**OWNER, "status": LOAD_FAILED}, READY)
    assert [e["reason"] for e in posted] == ["ModelLoadFailed", "Ready"]
    now[0] += 61
    recorder.record(flipping, LOAD_FAILED)
    assert [e["reason"] for e in posted] == ["ModelLoadFailed", "Ready", "ModelLoadFailed"]
    other = {**OWNER, "metadata": {**OWNER["metadata"], "uid": "u-2", "name": "n"}}
    recorder.record(other, LOAD_FAILED)  # another object is not held back by the first
    assert posted[-1]["regarding"]["uid"] == "u-2"


def test_a_refused_event_never_fails_the_pass() -> None:
    def refuse(_: Obj) -> None:
        raise RuntimeError("403 forbidden")

    recorder = EventRecorder(refuse, "op")
    assert recorder.record(OWNER, LOAD_FAILED) == 0
