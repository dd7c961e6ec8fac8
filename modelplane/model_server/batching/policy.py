"""Pure choice of a model's batch policy from its effective model.yaml (flags already applied)."""

from __future__ import annotations

from modelplane.model_server.batching.queue import BatchPolicy
from modelplane.model_server.config import BatchingConfig, ModelConfig


def batch_policy(config: ModelConfig) -> BatchPolicy | None:
    """The dynamic batcher's policy, or None when the model runs one request per execution.

    Batching is on when ``max_batch_size`` is above 1; the ``batching`` section (or its
    defaults) supplies the delay, preferred sizes, queue bound and per-request timeout.
    """
    if config.max_batch_size <= 1:
        return None
    batching = config.batching or BatchingConfig()
    return BatchPolicy(
        max_batch_size=config.max_batch_size,
        max_queue_delay_us=batching.max_queue_delay_us,
        preferred_batch_sizes=tuple(
            size for size in batching.preferred_batch_sizes if size <= config.max_batch_size
        ),
        max_queue_size=batching.max_queue_size,
        timeout_s=batching.timeout,
        concurrency=config.instances,
    )
