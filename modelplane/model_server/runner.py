"""Per-model runners: the data plane awaits `runner.infer`; blocking backend work leaves the loop here."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

from modelplane.model_server.backends.base import Backend, Tensors
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.settings import ServerSettings

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

    async def close(self) -> None:
        """Stop accepting work and release what the runner holds (not the backend)."""


class DirectRunner:
    """One call to the backend per request, off the event loop."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def infer(self, inputs: Tensors) -> Tensors:
        return await run_blocking(self._backend.infer, inputs)

    async def close(self) -> None:
        return None


RunnerFactory = Callable[[Backend, ModelConfig, ServerSettings], Runner]


def make_runner(backend: Backend, config: ModelConfig, settings: ServerSettings) -> Runner:
    """The runner for a freshly loaded model (direct; batching plugs in here)."""
    del config, settings
    return DirectRunner(backend)
