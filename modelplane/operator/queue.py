"""The work queue between kopf's watch events and reconcile passes.

Many events for one object (its own changes, each child's status updates, the resync)
collapse into as few passes as possible: a request is satisfied by any pass that
started after it was made. Passes run in a thread pool, one at a time per object;
failed or waiting passes are retried later. A closed gate (a replica that is not the
leader) drops requests: the leader-to-be resyncs everything when it starts leading.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from modelplane.operator.reconcile import Key, PassResult, Reconciler

log = logging.getLogger(__name__)

ERROR_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass
class _State:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    requested: int = 0
    completed: int = 0
    failures: int = 0


class ReconcileQueue:
    """Coalescing, per-object serialised reconcile passes with retries."""

    def __init__(
        self,
        reconciler: Reconciler,
        workers: int = 16,
        gate: Callable[[], bool] = lambda: True,
    ) -> None:
        self.reconciler = reconciler
        self.gate = gate
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="reconcile")
        self._states: dict[Key, _State] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def reconcile(self, key: Key) -> None:
        """Return once a pass that started after this call has finished (or raise its error)."""
        state = self._states.setdefault(key, _State())
        state.requested += 1
        ticket = state.requested
        async with state.lock:
            if state.completed >= ticket:
                return  # a pass started after our request already covered it
            if not self.gate():
                return  # not the leader: another replica reconciles
            started = state.requested
            loop = asyncio.get_running_loop()
            outcome: PassResult = await loop.run_in_executor(
                self._executor, self.reconciler.run, key
            )
            state.completed = started
            state.failures = 0
        if outcome.retry_after is not None:
            self.later(key, outcome.retry_after)
        for other in outcome.follow_up:
            self.schedule(other)

    def schedule(self, key: Key) -> None:
        """Ask for a pass without waiting; errors are logged and retried with backoff."""
        task = asyncio.create_task(self._guarded(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def later(self, key: Key, delay: float) -> None:
        """Ask for a pass after `delay` seconds (the earliest of pending asks wins)."""
        loop = asyncio.get_running_loop()
        pending = self._timers.get(key)
        if pending is not None and pending.when() <= loop.time() + delay:
            return
        if pending is not None:
            pending.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.schedule(key)

    async def _guarded(self, key: Key) -> None:
        try:
            await self.reconcile(key)
        except Exception:
            state = self._states.setdefault(key, _State())
            delay = ERROR_BACKOFF[min(state.failures, len(ERROR_BACKOFF) - 1)]
            state.failures += 1
            log.exception("reconcile of %s %s/%s failed; retrying in %ss", *key, delay)
            self.later(key, delay)

    def forget(self, key: Key) -> None:
        """Drop the bookkeeping of a deleted object."""
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        state = self._states.get(key)
        if state is not None and not state.lock.locked():
            del self._states[key]

    async def close(self) -> None:
        """Stop timers and tasks; wait for passes in flight."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=True)
