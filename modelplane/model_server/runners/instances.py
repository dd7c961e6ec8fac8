"""Concurrent model instances: up to N executions at once, each on a thread of the model's own pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from modelplane.model_server.backends.base import Backend, Tensors
from modelplane.model_server.metrics import ModelMeter
from modelplane.model_server.protocol.types import InferenceRequest

A = TypeVar("A")


class InstancesRunner:
    """Runs the backend off the event loop on `instances` dedicated threads.

    Backends share one loaded model across the threads (onnxruntime sessions and TorchScript
    modules are safe to call concurrently); requests beyond N wait in the pool's queue instead
    of oversubscribing the cores.
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
        self._pool = ThreadPoolExecutor(max_workers=instances, thread_name_prefix="model-instance")

    async def infer(self, inputs: Tensors) -> Tensors:
        rows = _rows(inputs) if self._batched else 1
        return await self._execute(self._backend.infer, inputs, rows)

    async def infer_request(self, request: InferenceRequest) -> Tensors:
        return await self._execute(self._backend.infer_request, request, 1)

    async def _execute(self, call: Callable[[A], Tensors], argument: A, inferences: int) -> Tensors:
        loop = asyncio.get_running_loop()
        meter = self._meter
        if meter is None:
            return await loop.run_in_executor(self._pool, call, argument)
        submitted = time.perf_counter()
        outputs, waited, seconds = await loop.run_in_executor(
            self._pool, _timed, call, argument, submitted
        )
        # recorded here, on the event loop: the metrics are updated from that thread only
        if not self._batched:  # a batched request's wait and compute are the queue's to tell
            meter.queued(waited)
            meter.computed(seconds)
        meter.executed(inferences, seconds)
        return outputs

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _timed(
    call: Callable[[A], Tensors], argument: A, submitted: float
) -> tuple[Tensors, float, float]:
    """The outputs, the seconds waited for a free instance, and the seconds of the call."""
    started = time.perf_counter()
    outputs = call(argument)
    return outputs, started - submitted, time.perf_counter() - started


def _rows(inputs: Tensors) -> int:
    for array in inputs.values():
        return int(array.shape[0]) if array.ndim else 1
    return 0
