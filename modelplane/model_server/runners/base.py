"""The Runner protocol and the one way off the event loop for blocking work."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

from modelplane.model_server.backends.base import Tensors
from modelplane.model_server.protocol.types import InferenceRequest

P = ParamSpec("P")
T = TypeVar("T")


async def run_blocking(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking `fn` in the loop's default thread pool: the one way off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


class Runner(Protocol):
    """Runs one loaded model; batching and multi-instance runners implement the same."""

    async def infer(self, inputs: Tensors) -> Tensors:
        """Outputs of the model for `inputs`."""

    async def infer_request(self, request: InferenceRequest) -> Tensors:
        """Outputs of a model that takes the whole V2 request (`Signature.takes_request`)."""

    def busy(self) -> bool:
        """Whether requests are queued or running now (an eviction passes such a model over)."""

    async def close(self) -> None:
        """Stop accepting work and release what the runner holds (not the backend)."""
