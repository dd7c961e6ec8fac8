"""Wire types of Triton's model-configuration and statistics extensions (their JSON shape).

The field names are Triton's (`model_config.proto`, `grpc_service.proto`); `triton.py` builds
these, REST dumps them and the gRPC edge parses the same dump into the protobuf messages.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TensorConfig(_Wire):
    """A model input or output: `dims` without the batch dimension when max_batch_size > 0."""

    name: str
    data_type: str = Field(description="TYPE_FP32, TYPE_INT32, ... (BYTES is TYPE_STRING)")
    dims: list[int]


class OutputConfig(TensorConfig):
    """A model output; `label_filename` names its file of class labels (classification)."""

    label_filename: str | None = None


class QueuePolicy(_Wire):
    """The batch queue's bound and request timeout."""

    max_queue_size: int | None = None
    default_timeout_microseconds: int | None = None


class DynamicBatching(_Wire):
    """The dynamic batcher's settings."""

    preferred_batch_size: list[int] = Field(default_factory=list)
    max_queue_delay_microseconds: int = 0
    default_queue_policy: QueuePolicy | None = None


class InstanceGroup(_Wire):
    """Concurrent copies of the model: `kind` is KIND_CPU, KIND_GPU or KIND_AUTO."""

    name: str
    kind: str
    count: int


class StringValue(_Wire):
    """A model parameter's value."""

    string_value: str


class ModelConfig(_Wire):
    """`GET /v2/models/{name}[/versions/{v}]/config` response."""

    name: str
    platform: str
    backend: str
    max_batch_size: int
    input: list[TensorConfig]
    output: list[OutputConfig]
    instance_group: list[InstanceGroup]
    parameters: dict[str, StringValue] = Field(default_factory=dict)
    dynamic_batching: DynamicBatching | None = None


class Duration(_Wire):
    """How many, and their summed nanoseconds."""

    count: int
    ns: int


class InferStatistics(_Wire):
    """Per-phase request counts and durations."""

    success: Duration
    fail: Duration
    queue: Duration
    compute_input: Duration
    compute_infer: Duration
    compute_output: Duration
    cache_hit: Duration
    cache_miss: Duration


class BatchStatistics(_Wire):
    """Executions of one batch size: `compute_infer` is their count and summed time;
    `compute_input` and `compute_output` are measured per request, not per batch, so zero."""

    batch_size: int
    compute_input: Duration
    compute_infer: Duration
    compute_output: Duration


class ModelStatistics(_Wire):
    """One model version's statistics; `last_inference` in milliseconds since the epoch."""

    name: str
    version: str
    last_inference: int
    inference_count: int
    execution_count: int
    inference_stats: InferStatistics
    batch_stats: list[BatchStatistics] = Field(default_factory=list)


class StatisticsResponse(_Wire):
    """`GET /v2/models[/{name}[/versions/{v}]]/stats` response."""

    model_stats: list[ModelStatistics]
