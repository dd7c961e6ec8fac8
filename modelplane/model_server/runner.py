"""Per-model runners: the data plane awaits `runner.infer`; blocking backend work leaves the loop here."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

from modelplane.model_server.backends.base import Backend, Tensors
from modelplane.model_server.batching.policy import batch_policy
from modelplane.model_server.batching.runner import BatchingRunner
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.instances import InstancesRunner
from modelplane.model_server.metrics import ModelMeter
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


DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)  # what asyncio's default executor uses

RunnerFactory = Callable[[Backend, ModelConfig, ServerSettings, "ModelMeter | None"], Runner]


def make_runner(
    backend: Backend,
    config: ModelConfig,
    settings: ServerSettings,
    meter: ModelMeter | None = None,
) -> Runner:
    """The runner for a freshly loaded model: `instances` threads, behind the batcher if on."""
    del settings  # batching flags are already folded into config (discovery.apply_overrides)
    policy = batch_policy(config)
    # Unless model.yaml bounds the instances, executions are not bounded either (as with a
    # default thread pool): a request that timed out must not hold back the next ones.
    threads = config.instances if "instances" in config.model_fields_set else DEFAULT_THREADS
    inner = InstancesRunner(backend, threads, meter, batched=policy is not None)
    if policy is None:
        return inner
    return BatchingRunner(inner, policy, meter)
