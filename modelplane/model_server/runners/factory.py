"""The runner a freshly loaded model gets: its instances, behind the batcher when batching is on."""

from __future__ import annotations

import os
from collections.abc import Callable

from modelplane.model_server.backends.base import Backend
from modelplane.model_server.batching.policy import batch_policy
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.metrics import ModelMeter
from modelplane.model_server.runners.base import Runner
from modelplane.model_server.runners.batching import BatchingRunner
from modelplane.model_server.runners.instances import InstancesRunner

DEFAULT_THREADS = min(32, (os.cpu_count() or 1) + 4)  # what asyncio's default executor uses

RunnerFactory = Callable[[Backend, ModelConfig, ModelMeter | None], Runner]


def make_runner(backend: Backend, config: ModelConfig, meter: ModelMeter | None = None) -> Runner:
    """The runner for a freshly loaded model: `instances` threads, behind the batcher if on.

    Batching flags are already folded into `config` (discovery.apply_overrides).
    """
    policy = batch_policy(config)
    # Unless model.yaml bounds the instances, executions are not bounded either (as with a
    # default thread pool): a request that timed out must not hold back the next ones.
    threads = config.instances if "instances" in config.model_fields_set else DEFAULT_THREADS
    inner = InstancesRunner(backend, threads, meter, batched=policy is not None)
    if policy is None:
        return inner
    return BatchingRunner(inner, policy, meter)
