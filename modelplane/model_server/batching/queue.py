"""The batch queue: owns futures and deadlines, forms batches, and sends a lone request at once when idle.

Rule: when no execution is in flight a request is dispatched immediately. Requests queue only
while executions are busy; a free execution slot then takes whatever compatible requests are
waiting (up to ``max_batch_size``). With several slots (``instances``) a free slot waits for
companions while another execution is busy, at most ``max_queue_delay_us`` after the oldest
request arrived, unless a preferred or the maximum batch size is already waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from modelplane.model_server.batching.merge import Tensors, batch_key, batch_size, merge, split
from modelplane.model_server.errors import DeadlineExceeded, QueueFull

Execute = Callable[[dict[str, np.ndarray]], Awaitable[dict[str, np.ndarray]]]


class BatchObserver(Protocol):
    """Receives what the queue measures (metrics live elsewhere)."""

    def queued(self, seconds: float) -> None:
        """Time one request spent waiting before its execution started."""

    def computed(self, seconds: float) -> None:
        """The execution that served one request took `seconds` (told in that request's task)."""


@dataclass(frozen=True)
class BatchPolicy:
    """How one model's requests are queued and batched."""

    max_batch_size: int = 1
    max_queue_delay_us: int = 0
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_size: int = 0  # 0: unbounded
    timeout_s: float | None = None
    concurrency: int = 1  # executions in flight at once (model instances)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.concurrency < 1:
            raise ValueError("max_batch_size and concurrency must be at least 1")
        if self.max_queue_delay_us < 0 or self.max_queue_size < 0:
            raise ValueError("max_queue_delay_us and max_queue_size must not be negative")
        if any(p < 1 or p > self.max_batch_size for p in self.preferred_batch_sizes):
            raise ValueError("preferred_batch_sizes must lie in 1..max_batch_size")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")


@dataclass(eq=False)
class _Entry:
    inputs: Tensors
    key: Hashable
    size: int
    enqueued: float
    future: asyncio.Future[dict[str, np.ndarray]]
    alone: bool
    timer: asyncio.TimerHandle | None = field(default=None)
    computed: float = 0.0  # seconds of the execution that served it


class BatchQueue:
    """Queues requests for one model and runs them through ``execute`` in batches."""

    def __init__(
        self,
        execute: Execute,
        policy: BatchPolicy,
        observer: BatchObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._execute = execute
        self._policy = policy
        self._observer = observer
        self._clock = clock
        self._pending: deque[_Entry] = deque()
        self._busy = 0
        self._wakeup: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._delay = policy.max_queue_delay_us / 1e6
        self._ready_sizes = frozenset(policy.preferred_batch_sizes) | {policy.max_batch_size}

    @property
    def depth(self) -> int:
        """Requests waiting, not yet executing."""
        return len(self._pending)

    @property
    def busy(self) -> int:
        """Executions in flight."""
        return self._busy

    async def submit(self, inputs: Tensors) -> dict[str, np.ndarray]:
        """Queue one request and wait for its own slice of the batched outputs."""
        policy = self._policy
        if policy.max_queue_size and len(self._pending) >= policy.max_queue_size:
            raise QueueFull(
                f"queue full: {len(self._pending)} requests waiting (max_queue_size "
                f"{policy.max_queue_size}); retry later"
            )
        loop = asyncio.get_running_loop()
        key = batch_key(inputs)
        size = batch_size(inputs) if key is not None else 1
        alone = key is None or size >= policy.max_batch_size
        entry = _Entry(inputs, key, size, self._clock(), loop.create_future(), alone)
        if policy.timeout_s is not None:
            entry.timer = loop.call_later(policy.timeout_s, self._expire, entry)
        self._pending.append(entry)
        self._pump()
        try:
            result = await entry.future
            if self._observer is not None:  # here, in the request's own task
                self._observer.computed(entry.computed)
            return result
        finally:
            if entry.timer is not None:
                entry.timer.cancel()

    async def drain(self) -> None:
        """Wait until no request is queued or executing."""
        while self._pending or self._tasks:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            else:
                await asyncio.sleep(self._delay or 0.001)

    def _expire(self, entry: _Entry) -> None:
        if not entry.future.done():
            waited = self._clock() - entry.enqueued
            entry.future.set_exception(
                DeadlineExceeded(
                    f"request timed out after {waited:.3f}s (timeout {self._policy.timeout_s}s)"
                )
            )

    def _pump(self) -> None:
        """Start executions while slots are free and the waiting requests are ready to go."""
        while self._busy < self._policy.concurrency and self._drop_done_head():
            batch = self._take()
            if self._busy and not self._ready(batch):
                self._pending.extendleft(reversed(batch))
                self._arm(batch[0].enqueued + self._delay)
                return
            self._start(batch)

    def _drop_done_head(self) -> bool:
        while self._pending and self._pending[0].future.done():
            self._pending.popleft()
        return bool(self._pending)

    def _ready(self, batch: list[_Entry]) -> bool:
        if batch[0].alone:
            return True
        total = sum(e.size for e in batch)
        return total in self._ready_sizes or self._clock() - batch[0].enqueued >= self._delay

    def _take(self) -> list[_Entry]:
        """Remove and return the head request plus compatible followers, in arrival order."""
        pending = self._pending
        head = pending.popleft()
        batch, total = [head], head.size
        limit = self._policy.max_batch_size
        if head.alone or not pending:
            return batch
        keep: list[_Entry] = []
        while pending and total < limit:
            entry = pending.popleft()
            if entry.future.done():
                continue
            if not entry.alone and entry.key == head.key and total + entry.size <= limit:
                batch.append(entry)
                total += entry.size
            else:
                keep.append(entry)
        pending.extendleft(reversed(keep))
        return self._trim_to_preferred(batch, total)

    def _trim_to_preferred(self, batch: list[_Entry], total: int) -> list[_Entry]:
        preferred = [p for p in self._policy.preferred_batch_sizes if p <= total]
        if not preferred or total in self._ready_sizes:
            return batch
        target, running, cut = max(preferred), 0, len(batch)
        for index, entry in enumerate(batch):
            if running + entry.size > target:
                cut = index
                break
            running += entry.size
        if cut and cut < len(batch):
            self._pending.extendleft(reversed(batch[cut:]))
            return batch[:cut]
        return batch

    def _arm(self, when: float) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
        loop = asyncio.get_running_loop()
        self._wakeup = loop.call_later(max(0.0, when - self._clock()), self._on_wakeup)

    def _on_wakeup(self) -> None:
        self._wakeup = None
        self._pump()

    def _start(self, batch: list[_Entry]) -> None:
        self._busy += 1
        if self._observer is not None:
            now = self._clock()
            for entry in batch:
                self._observer.queued(now - entry.enqueued)
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Entry]) -> None:
        try:
            started = self._clock()
            if len(batch) == 1:
                results = [await self._execute(dict(batch[0].inputs))]
            else:
                outputs = await self._execute(merge([e.inputs for e in batch]))
                results = split(outputs, [e.size for e in batch])
            seconds = self._clock() - started
            for entry in batch:
                entry.computed = seconds
        except asyncio.CancelledError:
            for entry in batch:
                entry.future.cancel()
            raise
        except Exception as error:  # every waiter of the batch gets the failure
            for entry in batch:
                if not entry.future.done():
                    entry.future.set_exception(error)
        else:
            for entry, result in zip(batch, results, strict=True):
                if not entry.future.done():
                    entry.future.set_result(result)
        finally:
            self._busy -= 1
            self._pump()
