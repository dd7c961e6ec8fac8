"""The reconcile queue: coalescing, per-object serialisation, retries, follow-ups."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from modelplane.operator import queue as queue_module
from modelplane.operator.handlers import child_fingerprint, fingerprint, owner_of
from modelplane.operator.queue import ReconcileQueue
from modelplane.operator.reconcile import Key, PassResult

A: Key = ("InferenceService", "ns", "a")
B: Key = ("InferenceService", "ns", "b")
G: Key = ("InferenceGraph", "ns", "g")


class Recorder:
    """A stand-in for Reconciler.run that records passes and can fail or ask for more."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.passes: list[Key] = []
        self.running: dict[Key, int] = {}
        self.overlap = False
        self.max_parallel = 0
        self.fail_first: set[Key] = set()
        self.outcomes: dict[Key, PassResult] = {}
        self._lock = threading.Lock()

    def run(self, key: Key) -> PassResult:
        with self._lock:
            self.running[key] = self.running.get(key, 0) + 1
            self.overlap |= self.running[key] > 1
            self.max_parallel = max(self.max_parallel, sum(self.running.values()))
            self.passes.append(key)
        time.sleep(self.seconds)
        with self._lock:
            self.running[key] -= 1
        if key in self.fail_first:
            self.fail_first.discard(key)
            raise RuntimeError("boom")
        return self.outcomes.pop(key, PassResult())


def make(recorder: Recorder) -> ReconcileQueue:
    return ReconcileQueue(recorder, workers=4)  # type: ignore[arg-type]


async def settle(q: ReconcileQueue, seconds: float = 0.5) -> None:
    """Let scheduled passes and retries play out for a fixed time, then stop the queue."""
    await asyncio.sleep(seconds)
    await q.close()


async def test_a_burst_for_one_object_collapses_into_few_passes() -> None:
    recorder = Recorder()
    q = make(recorder)
    await asyncio.gather(*(q.reconcile(A) for _ in range(20)))
    await q.close()
    assert recorder.passes.count(A) <= 2
    assert not recorder.overlap


async def test_a_request_during_a_pass_gets_a_later_pass() -> None:
    recorder = Recorder(seconds=0.1)
    q = make(recorder)
    first = asyncio.create_task(q.reconcile(A))
    await asyncio.sleep(0.03)  # the first pass is running now
    await q.reconcile(A)
    await first
    await q.close()
    assert recorder.passes == [A, A]


async def test_different_objects_run_in_parallel() -> None:
    recorder = Recorder(seconds=0.1)
    q = make(recorder)
    await asyncio.gather(q.reconcile(A), q.reconcile(B))
    await q.close()
    assert recorder.max_parallel == 2


async def test_a_failed_scheduled_pass_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_module, "ERROR_BACKOFF", (0.05,))
    recorder = Recorder(seconds=0.01)
    recorder.fail_first.add(A)
    q = make(recorder)
    q.schedule(A)
    await settle(q)
    assert recorder.passes == [A, A]


async def test_retry_after_and_follow_ups_are_honoured() -> None:
    recorder = Recorder(seconds=0.01)
    recorder.outcomes[A] = PassResult(follow_up=[G])
    recorder.outcomes[G] = PassResult(retry_after=0.05)
    q = make(recorder)
    q.schedule(A)
    await settle(q)
    assert recorder.passes == [A, G, G]


async def test_awaited_reconcile_raises_the_pass_error() -> None:
    recorder = Recorder(seconds=0.01)
    recorder.fail_first.add(A)
    q = make(recorder)
    with pytest.raises(RuntimeError, match="boom"):
        await q.reconcile(A)
    await q.reconcile(A)
    await q.close()
    assert recorder.passes == [A, A]


def test_owner_from_child_labels() -> None:
    assert owner_of({"serving.modelplane.io/inferenceservice": "m"}, "ns") == (
        "InferenceService",
        "ns",
        "m",
    )
    assert owner_of({"serving.modelplane.io/inferencegraph": "g"}, "ns") == (
        "InferenceGraph",
        "ns",
        "g",
    )
    assert owner_of({"app": "other"}, "ns") is None


def test_fingerprint_ignores_status_only_changes() -> None:
    body: dict[str, Any] = {"metadata": {"generation": 3, "labels": {"a": "1"}}, "status": {"x": 1}}
    changed_status = {**body, "status": {"x": 2}}
    changed_spec = {**body, "metadata": {**body["metadata"], "generation": 4}}
    annotated = {**body, "metadata": {**body["metadata"], "annotations": {"k": "v"}}}
    assert fingerprint(body) == fingerprint(changed_status)
    assert fingerprint(body) != fingerprint(changed_spec)
    assert fingerprint(body) != fingerprint(annotated)


def test_child_fingerprint_tracks_readiness_and_desired_state_only() -> None:
    base: dict[str, Any] = {
        "metadata": {"name": "d", "resourceVersion": "1", "labels": {"a": "1"}},
        "spec": {"replicas": 1},
        "status": {
            "readyReplicas": 0,
            "conditions": [{"type": "Available", "status": "False", "lastUpdateTime": "t1"}],
        },
    }
    bumped = {
        **base,
        "metadata": {**base["metadata"], "resourceVersion": "2"},
        "status": {
            "readyReplicas": 0,
            "conditions": [{"type": "Available", "status": "False", "lastUpdateTime": "t2"}],
        },
    }
    ready = {
        **base,
        "status": {"readyReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]},
    }
    edited = {**base, "spec": {"replicas": 3}}
    assert child_fingerprint(base) == child_fingerprint(bumped)
    assert child_fingerprint(base) != child_fingerprint(ready)
    assert child_fingerprint(base) != child_fingerprint(edited)


async def test_a_closed_gate_drops_requests_and_an_open_one_runs_them() -> None:
    recorder = Recorder(seconds=0.0)
    leading = False
    q = ReconcileQueue(recorder, workers=2, gate=lambda: leading)  # type: ignore[arg-type]
    await q.reconcile(A)
    assert recorder.passes == []  # a standby runs no pass
    leading = True
    await q.reconcile(A)
    await q.close()
    assert recorder.passes == [A]
