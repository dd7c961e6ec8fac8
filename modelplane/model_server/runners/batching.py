"""The batching runner: the data plane's `runner.infer` through a BatchQueue onto an inner runner."""

from __future__ import annotations

from modelplane.model_server.backends.base import Tensors
from modelplane.model_server.batching.queue import BatchObserver, BatchPolicy, BatchQueue
from modelplane.model_server.protocol.types import InferenceRequest
from modelplane.model_server.runners.base import Runner


class BatchingRunner:
    """Queues requests, runs merged batches on `inner` (at most policy.concurrency at once).

    The queue raises QueueFull (503) when it is full and DeadlineExceeded (504) when a request
    outlives batching.timeout.
    """

    def __init__(
        self, inner: Runner, policy: BatchPolicy, observer: BatchObserver | None = None
    ) -> None:
        self._inner = inner
        self._queue = BatchQueue(inner.infer, policy, observer)

    async def infer(self, inputs: Tensors) -> Tensors:
        return await self._queue.submit(inputs)

    async def infer_request(self, request: InferenceRequest) -> Tensors:
        """A whole V2 request cannot be merged with others: it goes straight to `inner`."""
        return await self._inner.infer_request(request)

    def busy(self) -> bool:
        return bool(self._queue.depth or self._queue.busy or self._inner.busy())

    async def close(self) -> None:
        await self._queue.drain()
        await self._inner.close()
