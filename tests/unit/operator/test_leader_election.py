"""Leader election over a Lease: who takes it, when, and that one round has one winner."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from modelplane.operator.kube import KubeError
from modelplane.operator.leader import LeaderElector, LeaseSettings, Seen, decide

Obj = dict[str, Any]


def lease(holder: str | None, version: str = "1", duration: int = 15) -> Obj:
    spec: Obj = {"leaseDurationSeconds": duration, "renewTime": "t", "leaseTransitions": 2}
    if holder is not None:
        spec["holderIdentity"] = holder
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "modelplane-operator", "namespace": "ops", "resourceVersion": version},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("current", "seen", "now", "decision"),
    [
        (None, None, 0.0, "create"),
        (lease("me"), None, 0.0, "renew"),
        (lease(None), None, 0.0, "take"),  # released by its holder
        (lease("other"), None, 100.0, "wait"),  # first look: the holder may be alive
        (lease("other", "1"), Seen("1", 0.0), 14.9, "wait"),
        (lease("other", "1"), Seen("1", 0.0), 15.0, "take"),  # silent for its duration
        (lease("other", "2"), Seen("1", 0.0), 30.0, "wait"),  # renewed since: alive
        (lease("other", "1", duration=40), Seen("1", 0.0), 30.0, "wait"),  # the Lease's own
    ],
)
def test_decisions(current: Obj | None, seen: Seen | None, now: float, decision: str) -> None:
    assert decide(current, "me", seen, now, duration=15.0)[0] == decision


def test_a_renewal_restarts_the_expiry_clock() -> None:
    _, seen = decide(lease("other", "1"), "me", None, 3.0, 15.0)
    _, seen = decide(lease("other", "2"), "me", seen, 10.0, 15.0)
    assert decide(lease("other", "2"), "me", seen, 24.0, 15.0)[0] == "wait"
    assert decide(lease("other", "2"), "me", seen, 25.0, 15.0)[0] == "take"


class FakeLeases:
    """One Lease store with optimistic concurrency, like the API server's."""

    def __init__(self) -> None:
        self.stored: Obj | None = None
        self.version = 0
        self.fail: int | None = None

    def _store(self, obj: Obj) -> Obj:
        self.version += 1
        self.stored = copy.deepcopy(obj)
        self.stored["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.stored)

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        if self.fail is not None:
            raise KubeError(self.fail, "GET", name, "down")
        return copy.deepcopy(self.stored)

    def create(self, obj: Obj) -> Obj:
        if self.stored is not None:
            raise KubeError(409, "POST", "leases", "exists")
        return self._store(obj)

    def replace(self, obj: Obj) -> Obj:
        assert self.stored is not None
        if obj["metadata"]["resourceVersion"] != self.stored["metadata"]["resourceVersion"]:
            raise KubeError(409, "PUT", "leases", "conflict")
        return self._store(obj)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def elector(store: FakeLeases, clock: Clock, identity: str) -> LeaderElector:
    settings = LeaseSettings("ops", identity)
    return LeaderElector(store, settings, lambda _: None, clock=clock, wall=lambda: "w")  # type: ignore[arg-type]


def test_one_holder_and_a_standby_takes_over_after_the_duration() -> None:
    store, clock = FakeLeases(), Clock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert a.try_once() is True
    assert b.try_once() is False
    assert store.stored is not None and store.stored["spec"]["holderIdentity"] == "a"
    for _ in range(5):  # a renews every 5 s; b keeps waiting
        clock.now += 5
        assert a.try_once() is True
        assert b.try_once() is False
    # a dies: b takes over once the Lease has been silent for its duration, not before
    clock.now += 5
    assert b.try_once() is False
    clock.now += 9.9
    assert b.try_once() is False
    clock.now += 0.1
    assert b.try_once() is True
    assert store.stored["spec"]["holderIdentity"] == "b"
    assert store.stored["spec"]["leaseTransitions"] == 1


def test_two_candidates_reading_the_same_lease_have_one_winner() -> None:
    store, clock = FakeLeases(), Clock()
    store._store(lease(None))  # released
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    read = store.get("Lease", "ops", "modelplane-operator")
    store.get = lambda *_: copy.deepcopy(read)  # type: ignore[method-assign]
    assert [a.try_once(), b.try_once()] == [True, False]


def test_release_lets_a_standby_take_the_lease_at_once() -> None:
    store, clock = FakeLeases(), Clock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    a.try_once()
    a.leading = True
    assert b.try_once() is False
    a.release()
    assert a.leading is False
    assert b.try_once() is True


async def test_a_leader_that_cannot_renew_stops_before_the_lease_expires() -> None:
    store, clock = FakeLeases(), Clock()
    changes: asyncio.Queue[bool] = asyncio.Queue()
    settings = LeaseSettings("ops", "a", renew=0.01, retry=0.01)
    a = LeaderElector(store, settings, changes.put_nowait, clock=clock, wall=lambda: "w")  # type: ignore[arg-type]
    task = asyncio.create_task(a.run())
    try:
        assert await asyncio.wait_for(changes.get(), 5) is True
        store.fail = 500
        clock.now = settings.deadline - 0.1
        with pytest.raises(TimeoutError):  # still inside its deadline: it keeps leading
            await asyncio.wait_for(changes.get(), 0.2)
        clock.now = settings.deadline
        assert await asyncio.wait_for(changes.get(), 5) is False
        assert settings.deadline < settings.duration
    finally:
        task.cancel()
