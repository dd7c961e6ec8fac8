"""The batch queue with a fake slow backend: send-now-if-idle, batching while busy, limits, deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import numpy as np
import pytest

from modelplane.model_server.batching.queue import BatchPolicy, BatchQueue
from modelplane.model_server.errors import DeadlineExceeded, QueueFull

T = TypeVar("T")
BOUND = 5.0  # seconds any single wait in these tests may take


class GatedBackend:
    """Records each batch it is given and holds it until the test opens the gate."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[dict[str, np.ndarray]] = []
        self.gate = asyncio.Event()
        self.fail = fail
        self._started = asyncio.Condition()

    async def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        async with self._started:
            self.batches.append(inputs)
            self._started.notify_all()
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("backend exploded")
        return {"y": inputs["x"] * 2}

    async def started(self, count: int) -> None:
        async with self._started:
            await asyncio.wait_for(
                self._started.wait_for(lambda: len(self.batches) >= count), BOUND
            )

    def sizes(self) -> list[int]:
        return [len(b["x"]) for b in self.batches]


def req(
    value: float, rows: int = 1, width: int = 4, dtype: type = np.float32
) -> dict[str, np.ndarray]:
    return {"x": np.full((rows, width), value, dtype=dtype)}


async def bounded(awaitable: Awaitable[T]) -> T:
    return await asyncio.wait_for(awaitable, BOUND)


async def let_loop_run() -> None:
    """Give queued callbacks a few turns of the event loop (no wall-clock wait)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lone_request_on_an_idle_model_is_sent_at_once_despite_a_long_delay() -> None:
    backend = GatedBackend()
    backend.gate.set()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=8, max_queue_delay_us=60_000_000))
    out = await asyncio.wait_for(queue.submit(req(3.0)), 1.0)
    np.testing.assert_array_equal(out["y"], np.full((1, 4), 6.0, dtype=np.float32))
    assert backend.sizes() == [1]


async def test_requests_arriving_while_busy_go_as_one_batch_and_each_gets_its_own_rows() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=16))
    first = asyncio.create_task(queue.submit(req(1.0)))
    await backend.started(1)
    rest = [asyncio.create_task(queue.submit(req(float(v), rows=v))) for v in (2, 3, 4)]
    await let_loop_run()
    assert queue.depth == 3 and backend.sizes() == [1]
    backend.gate.set()
    results = await bounded(asyncio.gather(first, *rest))
    assert backend.sizes() == [1, 2 + 3 + 4]
    for v, out in zip((1, 2, 3, 4), results, strict=True):
        np.testing.assert_array_equal(out["y"], np.full((v, 4), 2.0 * v, dtype=np.float32))


async def test_requests_with_different_shapes_or_dtypes_are_never_merged() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=8))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    mixed = [req(1.0), req(2.0, dtype=np.float64), req(3.0, width=5), req(4.0, rows=2)]
    tasks = [asyncio.create_task(queue.submit(r)) for r in mixed]
    await let_loop_run()
    backend.gate.set()
    results = await bounded(asyncio.gather(first, *tasks))
    shapes = sorted((b["x"].dtype.name, b["x"].shape) for b in backend.batches[1:])
    assert shapes == [("float32", (1, 5)), ("float32", (3, 4)), ("float64", (1, 4))]
    for r, out in zip(mixed, results[1:], strict=True):
        assert out["y"].dtype == r["x"].dtype
        np.testing.assert_array_equal(out["y"], r["x"] * 2)


async def test_batches_never_exceed_max_batch_size() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=4))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    tasks = [asyncio.create_task(queue.submit(req(float(i)))) for i in range(6)]
    big = asyncio.create_task(queue.submit(req(9.0, rows=7)))  # larger than the limit: alone
    await let_loop_run()
    backend.gate.set()
    await bounded(asyncio.gather(first, *tasks, big))
    assert backend.sizes() == [1, 4, 2, 7]


async def test_a_preferred_batch_size_is_cut_from_a_larger_waiting_group() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=8, preferred_batch_sizes=(2,)))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    tasks = [asyncio.create_task(queue.submit(req(float(i)))) for i in range(5)]
    await let_loop_run()
    backend.gate.set()
    await bounded(asyncio.gather(first, *tasks))
    assert backend.sizes() == [1, 2, 2, 1]


async def test_a_full_queue_rejects_with_a_typed_error_naming_the_limit() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=4, max_queue_size=2))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    waiting = [asyncio.create_task(queue.submit(req(1.0))) for _ in range(2)]
    await let_loop_run()
    with pytest.raises(QueueFull, match="max_queue_size 2"):
        await queue.submit(req(2.0))
    backend.gate.set()
    await bounded(asyncio.gather(first, *waiting))


async def test_a_request_past_its_deadline_fails_with_a_timeout_and_is_never_executed() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=4, timeout_s=0.05))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    with pytest.raises(DeadlineExceeded, match="timed out"):
        await bounded(queue.submit(req(1.0)))
    with pytest.raises(DeadlineExceeded):  # the executing one outlived its deadline too
        await bounded(first)
    backend.gate.set()
    out = await bounded(queue.submit(req(2.0)))  # the queue still serves afterwards
    assert out["y"][0, 0] == 4.0
    assert backend.sizes() == [1, 1]


async def test_a_cancelled_waiter_is_dropped_from_the_queue() -> None:
    backend = GatedBackend()
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=4))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    gone = asyncio.create_task(queue.submit(req(1.0)))
    kept = asyncio.create_task(queue.submit(req(2.0)))
    await let_loop_run()
    gone.cancel()
    backend.gate.set()
    await bounded(asyncio.gather(first, kept))
    assert backend.sizes() == [1, 1]
    assert backend.batches[1]["x"][0, 0] == 2.0


async def test_a_backend_failure_reaches_every_request_of_the_batch_and_the_queue_recovers() -> (
    None
):
    backend = GatedBackend(fail=True)
    queue = BatchQueue(backend, BatchPolicy(max_batch_size=4))
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    batch = [asyncio.create_task(queue.submit(req(1.0))) for _ in range(3)]
    await let_loop_run()
    backend.gate.set()
    results = await bounded(asyncio.gather(first, *batch, return_exceptions=True))
    assert all(isinstance(r, RuntimeError) for r in results)
    backend.fail = False
    assert (await bounded(queue.submit(req(5.0))))["y"][0, 0] == 10.0
    assert queue.busy == 0 and queue.depth == 0


async def test_with_two_instances_a_free_slot_waits_for_a_preferred_batch_while_the_other_is_busy() -> (
    None
):
    backend = GatedBackend()
    policy = BatchPolicy(
        max_batch_size=4, preferred_batch_sizes=(2,), max_queue_delay_us=60_000_000, concurrency=2
    )
    queue = BatchQueue(backend, policy)
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    second = asyncio.create_task(queue.submit(req(1.0)))
    await let_loop_run()
    assert backend.sizes() == [1] and queue.depth == 1  # waits for a companion
    third = asyncio.create_task(queue.submit(req(2.0)))
    await backend.started(2)
    assert backend.sizes() == [1, 2]
    backend.gate.set()
    await bounded(asyncio.gather(first, second, third))


async def test_with_two_instances_a_waiting_request_goes_when_its_delay_runs_out() -> None:
    backend = GatedBackend()
    policy = BatchPolicy(max_batch_size=4, max_queue_delay_us=20_000, concurrency=2)
    queue = BatchQueue(backend, policy)
    first = asyncio.create_task(queue.submit(req(0.0)))
    await backend.started(1)
    second = asyncio.create_task(queue.submit(req(1.0)))
    await backend.started(2)  # the 20 ms window closed while the first execution still runs
    assert backend.sizes() == [1, 1] and not first.done()
    backend.gate.set()
    await bounded(asyncio.gather(first, second))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_batch_size": 0},
        {"concurrency": 0},
        {"max_queue_delay_us": -1},
        {"max_batch_size": 4, "preferred_batch_sizes": (8,)},
        {"timeout_s": 0.0},
    ],
)
def test_an_impossible_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BatchPolicy(**kwargs)  # type: ignore[arg-type]
