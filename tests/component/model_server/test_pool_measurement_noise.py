"""A model's size is read from the whole process's memory, where other threads' allocations and
frees land too. One inflated reading must not refuse a model that fits, for good (a refused
or evicted model keeps its size): a CI run refused m19 of test_model_pool's concurrent test
with "does not fit: needs 22.6 MiB" when its models measure about 4 MiB."""

from __future__ import annotations

from typing import Any

from modelplane.model_server.memory import Reading
from tests.component.model_server.pool_support import _index, _infer, _register
from tests.support.model_server import RunningServer


class Inflating:
    """The pool's memory probe, with `extra` host bytes added to its `nth` reading from now,
    or taken off the reading after `armed` was set."""

    def __init__(self, real: Any, nth: int, extra: int) -> None:
        self.real, self.nth, self.extra = real, nth, extra
        self.reads = 0
        self.armed = False

    def read(self) -> Reading:
        self.reads += 1
        reading: Reading = self.real.read()
        if self.reads == self.nth:
            return Reading(reading.host + self.extra, reading.gpu)
        if self.armed:
            self.armed = False
            return Reading(max(0, reading.host - self.extra), reading.gpu)
        return reading


def _inflate(running: RunningServer, nth: int, extra: int) -> Inflating:
    assert running.server is not None
    pool = running.server.pool
    probe = Inflating(pool._probe, nth, extra)
    pool._probe = probe  # type: ignore[assignment]  # the server builds its pool; one reading
    return probe


def test_a_load_reading_inflated_by_other_threads_is_measured_again_not_refused(
    pool: tuple[RunningServer, int], storage: Any
) -> None:
    running, capacity = pool
    assert _register(running, storage, "m0").status_code == 200  # the backend's first load
    # m1's reading after its load, inflated by twice the capacity: by one capacity alone, the
    # reading fits when other threads freed memory during the load (a CI run measured
    # capacity minus a little, so the model was never measured again)
    probe = _inflate(running, nth=2, extra=2 * capacity)
    answer = _register(running, storage, "m1")
    assert answer.status_code == 200, answer.text
    entry = _index(running)["m1"]
    assert entry["state"] == "READY" and 0 < entry["memory"] < capacity, entry
    assert probe.reads == 4  # before and after, then once more each
    assert _infer(running, "m1", 1.0).json()["outputs"][0]["data"] == [2.0]


def test_memory_freed_by_others_during_an_eviction_does_not_refuse_the_evicted_model(
    pool: tuple[RunningServer, int], storage: Any
) -> None:
    """What an eviction frees is read as before minus after; here the reading after m0's
    unload is short by a capacity, as if other threads had freed that much meanwhile."""
    running, capacity = pool
    for i in range(5):
        assert _register(running, storage, f"m{i}").status_code == 200
    probe = _inflate(running, nth=0, extra=capacity)
    assert running.server is not None
    repository = running.server.pool.repository
    unload = repository.unload

    async def unload_and_arm(name: str, reason: str = "") -> None:
        await unload(name, reason=reason)
        if name == "m0":
            probe.armed = True

    repository.unload = unload_and_arm  # type: ignore[method-assign]
    i = 5
    while _index(running)["m0"]["state"] == "READY":  # until m0, the least recently used, goes
        assert _register(running, storage, f"m{i}").status_code == 200
        i += 1
        assert i < 20, _index(running)
    assert not probe.armed  # the short reading was taken
    answer = _infer(running, "m0", 1.0)  # loads it again, on demand
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [1.0]
    assert _index(running)["m0"]["memory"] < capacity
