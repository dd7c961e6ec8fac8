"""The instances runner: at most N calls at once on its own threads, answers back on the loop."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from modelplane.model_server.backends.base import Backend, Signature, Tensors
from modelplane.model_server.runners.instances import InstancesRunner


class GatedBackend(Backend):
    """Doubles its input; each call waits for the gate, counting how many run at once."""

    platform = "test"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def load(self) -> None:
        pass

    def signature(self) -> Signature:
        raise NotImplementedError

    def infer(self, inputs: Tensors) -> Tensors:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            if not self.gate.wait(timeout=10):
                raise TimeoutError("gate never opened")
            if "fail" in inputs:
                raise ValueError("bad input")
            return {"y": inputs["x"] * 2}
        finally:
            with self._lock:
                self.running -= 1

    def unload(self) -> None:
        pass


async def _until(condition: object, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def test_at_most_n_calls_run_at_once_and_each_gets_its_own_answer() -> None:
    backend = GatedBackend()
    runner = InstancesRunner(backend, instances=3)
    calls = [
        asyncio.create_task(runner.infer({"x": np.array([i], dtype=np.int64)})) for i in range(8)
    ]
    await _until(lambda: backend.running == 3)
    await asyncio.sleep(0.05)
    assert backend.running == 3  # the other five wait in the queue
    backend.gate.set()
    answers = await asyncio.gather(*calls)
    assert [int(a["y"][0]) for a in answers] == [2 * i for i in range(8)]
    assert backend.most == 3
    assert len(backend.threads) == 3
    await runner.close()


async def test_a_burst_after_sequential_calls_still_gets_every_instance() -> None:
    backend = GatedBackend()
    backend.gate.set()
    runner = InstancesRunner(backend, instances=4)
    for i in range(20):  # one at a time: one thread is enough
        await runner.infer({"x": np.array([i])})
    assert len(backend.threads) == 1
    backend.gate.clear()
    burst = [asyncio.create_task(runner.infer({"x": np.array([i])})) for i in range(4)]
    await _until(lambda: backend.running == 4)
    backend.gate.set()
    await asyncio.gather(*burst)
    await runner.close()


async def test_an_error_in_the_backend_reaches_the_caller() -> None:
    backend = GatedBackend()
    backend.gate.set()
    runner = InstancesRunner(backend, instances=1)
    with pytest.raises(ValueError, match="bad input"):
        await runner.infer({"x": np.array([1]), "fail": np.array([1])})
    assert int((await runner.infer({"x": np.array([5])}))["y"][0]) == 10  # the thread lives on
    await runner.close()


async def test_a_cancelled_caller_leaves_the_runner_usable() -> None:
    backend = GatedBackend()
    runner = InstancesRunner(backend, instances=1)
    slow = asyncio.create_task(runner.infer({"x": np.array([1])}))
    await _until(lambda: backend.running == 1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(slow, timeout=0.05)  # as the data plane's request timeout does
    backend.gate.set()
    assert int((await runner.infer({"x": np.array([3])}))["y"][0]) == 6
    await runner.close()


async def test_close_cancels_waiting_calls_and_refuses_new_ones() -> None:
    backend = GatedBackend()
    runner = InstancesRunner(backend, instances=1)
    running = asyncio.create_task(runner.infer({"x": np.array([1])}))
    await _until(lambda: backend.running == 1)
    waiting = asyncio.create_task(runner.infer({"x": np.array([2])}))
    await asyncio.sleep(0.05)
    await runner.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    backend.gate.set()
    assert int((await running)["y"][0]) == 2  # the call in progress finishes
    with pytest.raises(RuntimeError, match="closed"):
        await runner.infer({"x": np.array([3])})


def test_zero_instances_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        InstancesRunner(GatedBackend(), instances=0)


async def test_busy_while_a_call_runs_or_waits_and_idle_after() -> None:
    """What eviction reads to pass over a model serving requests."""
    from modelplane.model_server.batching.queue import BatchPolicy
    from modelplane.model_server.runners.batching import BatchingRunner

    backend = GatedBackend()
    plain = InstancesRunner(backend, instances=1)
    batched = BatchingRunner(
        InstancesRunner(backend, instances=1, batched=True),
        BatchPolicy(max_batch_size=4, max_queue_delay_us=0),
    )
    for runner in (plain, batched):
        assert not runner.busy()
        backend.gate.clear()
        calls = [asyncio.ensure_future(runner.infer({"x": np.ones((1, 1))})) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert runner.busy()
        backend.gate.set()
        await asyncio.gather(*calls)
        await asyncio.sleep(0.05)  # the thread marks itself idle just before answering
        assert not runner.busy()
        await runner.close()
