"""InferenceService (serving.modelplane.io/v1beta1): one model behind an endpoint."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from modelplane.api.core import (
    Affinity,
    Container,
    EnvVar,
    LocalObjectReference,
    ResourceRequirements,
    Toleration,
    check_unique_names,
)
from modelplane.api.inference_service_status import InferenceServiceStatus
from modelplane.api.meta import (
    DNS_LABEL_RULE,
    GROUP,
    ApiModel,
    Resource,
    cel_rules,
    check_dns_label,
    list_map,
)
from modelplane.api.scaling import (
    DEFAULT_SCALE_TO_ZERO_AFTER,
    METRIC_NEEDS_MODEL_RULE,
    NO_ZERO_RULE,
    REPLICAS_RULE,
    SCALE_TARGET_RULE,
    SCALE_TO_ZERO_RULE,
    TRANSFORMER_METRIC_RULE,
    ZERO_NEEDS_MODEL_RULE,
    ScaleMetric,
    ScalesToZero,
    check_not_zero,
    check_replicas,
    check_scale_target,
    is_pods_metric,
)

ProtocolVersion = Literal["v2", "grpc-v2"]

STORAGE_URI_PATTERN = r"^(pvc|s3|gs|https?|file)://.+"

CANARY_RANGE_RULE = {
    "rule": "!has(self.canaryTrafficPercent)"
    " || (self.canaryTrafficPercent >= 0 && self.canaryTrafficPercent <= 100)",
    "message": "canaryTrafficPercent must be between 0 and 100",
    "fieldPath": ".canaryTrafficPercent",
}
# Only the predictor has revisions; the transformer rolls in place, so a split is refused.
NO_CANARY_RULE = {
    "rule": "!has(self.canaryTrafficPercent)",
    "message": "canaryTrafficPercent is only supported on the predictor (the transformer "
    "has no revisions)",
    "fieldPath": ".canaryTrafficPercent",
}
PREDICTOR_RULE = {
    "rule": "has(self.model) != has(self.containers)",
    "message": "predictor must set exactly one of model or containers",
}


class ModelFormat(ApiModel):
    """The format a model is stored in, used to pick a serving runtime."""

    name: str = Field(
        min_length=1,
        max_length=63,
        description="Name of the model format: onnx, pytorch, python, or any format a runtime lists.",
    )
    version: str | None = Field(
        default=None,
        max_length=63,
        description="Version of the model format; a runtime must list the same version when set.",
    )


class ModelSpec(ApiModel):
    """A model served by a ServingRuntime: format, location and per-model container settings."""

    model_format: ModelFormat = Field(description="Format of the model; selects the runtime.")
    runtime: str | None = Field(
        default=None,
        max_length=253,
        description="Name of the ServingRuntime or ClusterServingRuntime to use; "
        "when unset, the highest-priority runtime that auto-selects the format is used.",
    )
    storage_uri: str | None = Field(
        default=None,
        max_length=2048,
        pattern=STORAGE_URI_PATTERN,
        description="Where the model lives: pvc://CLAIM/PATH is mounted; s3://, gs://, "
        "http(s):// are downloaded to /mnt/models before the server starts; "
        "file:// is for local mode only.",
    )
    protocol_version: ProtocolVersion | None = Field(
        default=None,
        description="Inference protocol the endpoint speaks: v2 (REST, the default) or grpc-v2.",
    )
    args: list[str] | None = Field(
        default=None, description="Extra arguments appended to the runtime container's args."
    )
    env: list[EnvVar] | None = Field(
        default=None, description="Extra environment variables for the runtime container."
    )
    resources: ResourceRequirements | None = Field(
        default=None,
        description="Compute resources of the model container; asking for nvidia.com/gpu "
        "(or a MIG profile such as nvidia.com/mig-1g.10gb) schedules it on a GPU node.",
    )


class Batcher(ApiModel):
    """Server-side dynamic batching of requests."""

    max_batch_size: int | None = Field(
        default=None,
        ge=1,
        le=65536,
        description="Largest batch, in requests, sent to the model at once (default 32).",
    )
    max_latency: int | None = Field(
        default=None,
        ge=1,
        le=600000,
        description="Longest time in milliseconds a request waits for a batch to fill (default 500).",
    )
    timeout: int | None = Field(
        default=None,
        ge=1,
        description="Seconds a batched request may take before it fails (default 60).",
    )


class ComponentSpec(ApiModel):
    """Settings shared by the predictor and the transformer: scaling, traffic, scheduling."""

    min_replicas: int | None = Field(default=None, ge=0, description="Fewest replicas (default 1).")
    max_replicas: int | None = Field(
        default=None,
        ge=1,
        description="Most replicas; autoscaling is enabled when greater than minReplicas.",
    )
    scale_metric: ScaleMetric | None = Field(
        default=None,
        description="Metric the autoscaler follows: cpu or memory (utilization percent), "
        "concurrency (in-flight requests per replica) or rps (requests per second per replica); "
        "rps and concurrency only on a model predictor, served to the HPA by prometheus-adapter "
        "from the model server's metrics, and with scaleTarget.",
    )
    scale_target: int | None = Field(
        default=None,
        ge=1,
        description="Target value of scaleMetric per replica: percent of the request for cpu "
        "and memory (default 80), requests per second for rps, requests in flight for "
        "concurrency (required for these two).",
    )
    container_concurrency: int | None = Field(
        default=None,
        ge=0,
        description="Most requests one replica serves at once; 0 means unlimited.",
    )
    timeout: int | None = Field(
        default=None, ge=1, description="Seconds a request may take before it fails (default 60)."
    )
    canary_traffic_percent: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Predictor only: percent of traffic sent to the latest revision while "
        "the last rolled-out one keeps the rest (weighted HTTPRoutes, so the operator needs a "
        "gateway); unset or 100 promotes the latest once it is ready, 0 rolls back.",
    )
    batcher: Batcher | None = Field(default=None, description="Dynamic batching of requests.")
    labels: dict[str, str] | None = Field(
        default=None, description="Labels added to the pods of this component."
    )
    annotations: dict[str, str] | None = Field(
        default=None, description="Annotations added to the pods of this component."
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Node labels the pods must match (merged over the runtime's)."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Tolerations of the pods (added to the runtime's)."
    )
    affinity: Affinity | None = Field(
        default=None, description="Affinity rules of the pods (replace the runtime's)."
    )
    service_account_name: str | None = Field(
        default=None,
        max_length=253,
        description="Service account the pods run as (also used for storage credentials).",
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None, description="Secrets used to pull the container images."
    )

    @model_validator(mode="after")
    def _replicas(self) -> ComponentSpec:
        check_replicas(self.min_replicas, self.max_replicas)
        check_scale_target(self.scale_metric, self.scale_target)
        return self


class PredictorSpec(ComponentSpec, ScalesToZero):
    """The model-serving component: a model on a runtime, or custom containers."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            PREDICTOR_RULE,
            REPLICAS_RULE,
            CANARY_RANGE_RULE,
            METRIC_NEEDS_MODEL_RULE,
            SCALE_TARGET_RULE,
            SCALE_TO_ZERO_RULE,
            ZERO_NEEDS_MODEL_RULE,
        )
    )

    model: ModelSpec | None = Field(
        default=None,
        description="The model to serve on a ServingRuntime (exclusive with containers).",
    )
    containers: list[Container] | None = Field(
        json_schema_extra=list_map("name"),
        default=None,
        min_length=1,
        max_length=8,
        description="Custom containers serving the V2 protocol on port 8080 (exclusive with "
        "model); the first one receives requests.",
    )

    scale_to_zero_after_seconds: int | None = Field(
        default=None,
        ge=1,
        description="With minReplicas 0: seconds without requests after which the predictor "
        f"goes to 0 replicas (default {DEFAULT_SCALE_TO_ZERO_AFTER}); the next request wakes it.",
    )

    _unique_containers = field_validator("containers")(check_unique_names)

    @model_validator(mode="after")
    def _model_or_containers(self) -> PredictorSpec:
        if (self.model is None) == (self.containers is None):
            raise ValueError("predictor must set exactly one of model or containers")
        self.check_idle_seconds()
        if self.min_replicas == 0 and self.model is None:
            raise ValueError(ZERO_NEEDS_MODEL_RULE["message"])
        if is_pods_metric(self.scale_metric) and self.model is None:
            raise ValueError(METRIC_NEEDS_MODEL_RULE["message"])
        return self


class TransformerSpec(ComponentSpec):
    """Pre/post-processing in front of the predictor: custom containers."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            REPLICAS_RULE, NO_CANARY_RULE, TRANSFORMER_METRIC_RULE, NO_ZERO_RULE
        )
    )

    containers: list[Container] = Field(
        json_schema_extra=list_map("name"),
        min_length=1,
        max_length=8,
        description="Containers of the transformer; the first receives requests on port 8080 "
        "and calls the predictor (its URL is in env PREDICTOR_HOST).",
    )

    _unique_containers = field_validator("containers")(check_unique_names)

    @model_validator(mode="after")
    def _transformer_rules(self) -> TransformerSpec:
        if self.canary_traffic_percent is not None:
            raise ValueError(NO_CANARY_RULE["message"])
        if is_pods_metric(self.scale_metric):
            raise ValueError(TRANSFORMER_METRIC_RULE["message"])
        check_not_zero(self.min_replicas)
        return self


class InferenceServiceSpec(ApiModel):
    """Desired state of an InferenceService."""

    predictor: PredictorSpec = Field(description="The model-serving component.")
    transformer: TransformerSpec | None = Field(
        default=None,
        description="Optional pre/post-processing component in front of the predictor.",
    )


class InferenceService(Resource):
    """A model served behind an endpoint speaking the Open Inference Protocol (V2)."""

    API_VERSION: ClassVar[str] = f"{GROUP}/v1beta1"
    KIND: ClassVar[str] = "InferenceService"
    PLURAL: ClassVar[str] = "inferenceservices"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("isvc",)

    ROOT_RULES: ClassVar[tuple[dict[str, str], ...]] = (DNS_LABEL_RULE,)

    spec: InferenceServiceSpec = Field(description="Desired state.")
    status: InferenceServiceStatus | None = Field(default=None, description="Observed state.")

    @model_validator(mode="after")
    def _name(self) -> InferenceService:
        check_dns_label(self.metadata)
        return self


__all__ = [
    "Batcher",
    "ComponentSpec",
    "InferenceService",
    "InferenceServiceSpec",
    "ModelFormat",
    "ModelSpec",
    "PredictorSpec",
    "TransformerSpec",
]
