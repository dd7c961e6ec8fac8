"""Concurrent model instances: up to N executions at once, each on a thread of the model's own.

The threads take work from one queue and hand each answer back to the event loop with one
`call_soon_threadsafe`. That is lighter than `loop.run_in_executor`, which wraps every call
in a concurrent future chained to an asyncio one (measured: a few microseconds of event-loop
CPU per request, about 5% of a small model's whole request).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from modelplane.model_server.backends.base import Backend, Tensors
from modelplane.model_server.metrics import ModelMeter
from modelplane.model_server.protocol.types import InferenceRequest

A = TypeVar("A")
Timed = tuple[Tensors, float, float]  # outputs, when the call started, its seconds
# (loop, future, call, argument), or None: the thread's signal to stop
_Work = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Timed]", Callable[[Any], Tensors], Any]


class InstancesRunner:
    """Runs the backend off the event loop on `instances` dedicated threads.

    Backends share one loaded model across the threads (onnxruntime sessions and TorchScript
    modules are safe to call concurrently); requests beyond N wait in the queue instead of
    oversubscribing the cores. Threads start as work needs them, up to N.
    """

    def __init__(
        self,
        backend: Backend,
        instances: int,
        meter: ModelMeter | None = None,
        batched: bool = False,
    ) -> None:
        if instances < 1:
            raise ValueError("instances must be at least 1")
        self._backend = backend
        self._meter = meter
        self._batched = batched  # count first-dimension rows as inferences, else 1 per call
        self._instances = instances
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._idle = _Idle()
        self._threads: list[threading.Thread] = []
        self._closed = False

    async def infer(self, inputs: Tensors) -> Tensors:
        rows = _rows(inputs) if self._batched else 1
        return await self._execute(self._backend.infer, inputs, rows)

    async def infer_request(self, request: InferenceRequest) -> Tensors:
        return await self._execute(self._backend.infer_request, request, 1)

    async def _execute(self, call: Callable[[A], Tensors], argument: A, inferences: int) -> Tensors:
        if self._closed:
            raise RuntimeError("the model's runner is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Timed] = loop.create_future()
        submitted = time.perf_counter()
        self._queue.put((loop, future, call, argument))
        # a thread more while calls wait that no idle thread will take, up to N
        if self._queue.qsize() > self._idle.count and len(self._threads) < self._instances:
            self._start_thread()
        outputs, started, seconds = await future
        meter = self._meter
        if meter is not None:  # recorded here, on the event loop: metrics change on it only
            if not self._batched:  # a batched request's wait and compute are the queue's to tell
                meter.queued(started - submitted)
                meter.computed(seconds)
            meter.executed(inferences, seconds)
        return outputs

    def _start_thread(self) -> None:
        name = f"model-instance_{len(self._threads)}"
        # daemon: an idle thread blocked on the queue must never hold the process open
        thread = threading.Thread(target=_serve, args=(self._queue, self._idle), name=name)
        thread.daemon = True
        thread.start()
        self._threads.append(thread)

    def busy(self) -> bool:
        """Work queued, or a thread not idle (read on the loop; no cost to requests)."""
        return self._queue.qsize() > 0 or self._idle.count < len(self._threads)

    async def close(self) -> None:
        """Cancel work not yet started and let every thread finish its current call and stop."""
        self._closed = True
        while True:
            try:
                work = self._queue.get_nowait()
            except queue.Empty:
                break
            if work is not None:
                work[1].cancel()
        for _ in self._threads:
            self._queue.put(None)


class _Idle:
    """How many instance threads wait for work (read on the loop, changed by the threads)."""

    __slots__ = ("_lock", "count")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self, change: int) -> None:
        with self._lock:
            self.count += change


def _serve(work_queue: queue.SimpleQueue[_Work | None], idle: _Idle) -> None:
    """One instance thread: run calls until told to stop, answering on each caller's loop."""
    idle.add(1)
    while True:
        work = work_queue.get()
        idle.add(-1)
        if work is None:
            return
        _run(work, idle)  # its references (tensors, request) die with its frame


def _run(work: _Work, idle: _Idle) -> None:
    loop, future, call, argument = work
    try:
        started = time.perf_counter()
        outputs = call(argument)
        answer: Timed = (outputs, started, time.perf_counter() - started)
    except Exception as exc:  # handed to the awaiting request
        idle.add(1)  # idle before the caller hears back, so its next call finds this thread
        _answer(loop, _fail, future, exc)
    else:
        idle.add(1)
        _answer(loop, _succeed, future, answer)


def _answer(
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[asyncio.Future[Timed], Any], None],
    future: asyncio.Future[Timed],
    value: Any,
) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits the answer
        loop.call_soon_threadsafe(settle, future, value)


def _succeed(future: asyncio.Future[Timed], answer: Timed) -> None:
    if not future.done():  # a request that timed out or was cancelled has moved on
        future.set_result(answer)


def _fail(future: asyncio.Future[Timed], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def _rows(inputs: Tensors) -> int:
    for array in inputs.values():
        return int(array.shape[0]) if array.ndim else 1
    return 0
