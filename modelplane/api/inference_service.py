"""InferenceService (serving.modelplane.io/v1beta1): one model behind an endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

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
from modelplane.api.meta import (
    DNS_LABEL_RULE,
    GROUP,
    ApiModel,
    Condition,
    Resource,
    StatusModel,
    cel_rules,
    check_dns_label,
    list_map,
)

ScaleMetric = Literal["cpu", "memory", "concurrency", "rps"]
ProtocolVersion = Literal["v2", "grpc-v2"]

STORAGE_URI_PATTERN = r"^(pvc|s3|gs|https?|file)://.+"

REPLICAS_RULE = {
    "rule": "!has(self.minReplicas) || !has(self.maxReplicas)"
    " || self.minReplicas <= self.maxReplicas",
    "message": "minReplicas must be less than or equal to maxReplicas",
    "fieldPath": ".minReplicas",
}
# rps and concurrency are Pods metrics that prometheus-adapter serves from the model server's
# /metrics (docs/operator.md, Autoscaling). Only a model predictor's container is the model
# server: custom containers and a transformer have no such metrics, so they are refused there.
RESOURCE_METRIC = (
    "!has(self.scaleMetric) || self.scaleMetric == 'cpu' || self.scaleMetric == 'memory'"
)
METRIC_NEEDS_MODEL_RULE = {
    "rule": f"{RESOURCE_METRIC} || has(self.model)",
    "message": "scaleMetric rps and concurrency read the model server's request metrics: they "
    "need a model predictor (custom containers scale on cpu or memory)",
    "fieldPath": ".scaleMetric",
}
TRANSFORMER_METRIC_RULE = {
    "rule": RESOURCE_METRIC,
    "message": "a transformer scales on cpu or memory: rps and concurrency read the model "
    "server's request metrics, which a transformer's containers do not serve",
    "fieldPath": ".scaleMetric",
}
SCALE_TARGET_RULE = {
    "rule": f"{RESOURCE_METRIC} || has(self.scaleTarget)",
    "message": "scaleMetric rps and concurrency need scaleTarget: requests per second, or "
    "requests in flight, per replica",
    "fieldPath": ".scaleTarget",
}
SCALE_TO_ZERO_RULE = {
    "rule": "!has(self.scaleToZeroAfterSeconds) || (has(self.minReplicas) && self.minReplicas == 0)",
    "message": "scaleToZeroAfterSeconds needs minReplicas: 0",
    "fieldPath": ".scaleToZeroAfterSeconds",
}
ZERO_NEEDS_MODEL_RULE = {
    "rule": "!has(self.minReplicas) || self.minReplicas > 0 || has(self.model)",
    "message": "minReplicas: 0 (scale to zero) needs a model predictor: the idle clock reads the "
    "model server's request metrics",
    "fieldPath": ".minReplicas",
}
NO_ZERO_RULE = {
    "rule": "!has(self.minReplicas) || self.minReplicas > 0",
    "message": "only a predictor scales to zero: minReplicas must be at least 1 here",
    "fieldPath": ".minReplicas",
}
DEFAULT_SCALE_TO_ZERO_AFTER = 300
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


def check_replicas(min_replicas: int | None, max_replicas: int | None) -> None:
    """Raise when minReplicas exceeds maxReplicas (mirrors REPLICAS_RULE)."""
    if min_replicas is not None and max_replicas is not None and min_replicas > max_replicas:
        raise ValueError("minReplicas must be less than or equal to maxReplicas")


class ScalesToZero:
    """minReplicas 0 and scaleToZeroAfterSeconds, read the same way on a predictor and on a
    graph's spec (its router): the mixin gives both the same two properties and check."""

    if TYPE_CHECKING:
        min_replicas: int | None
        scale_to_zero_after_seconds: int | None

    @property
    def scales_to_zero(self) -> bool:
        """minReplicas 0: idles to 0 replicas and wakes on request."""
        return self.min_replicas == 0

    @property
    def idle_seconds(self) -> int:
        """Seconds without requests before scaling to zero."""
        return self.scale_to_zero_after_seconds or DEFAULT_SCALE_TO_ZERO_AFTER

    def check_idle_seconds(self) -> None:
        """Raise for scaleToZeroAfterSeconds without minReplicas 0 (mirrors
        SCALE_TO_ZERO_RULE)."""
        if self.scale_to_zero_after_seconds is not None and self.min_replicas != 0:
            raise ValueError(SCALE_TO_ZERO_RULE["message"])


def is_pods_metric(metric: str | None) -> bool:
    """rps or concurrency: a Pods metric read from the servers' /metrics (not cpu or memory)."""
    return metric not in (None, "cpu", "memory")


def check_scale_target(metric: str | None, target: int | None) -> None:
    """Raise for rps or concurrency without a target (mirrors SCALE_TARGET_RULE)."""
    if is_pods_metric(metric) and target is None:
        raise ValueError(str(SCALE_TARGET_RULE["message"]))


def check_not_zero(min_replicas: int | None) -> None:
    """Raise for minReplicas 0 where scale to zero is not offered (mirrors NO_ZERO_RULE)."""
    if min_replicas == 0:
        raise ValueError(NO_ZERO_RULE["message"])


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


class Addressable(StatusModel):
    """An address inside the cluster."""

    url: str | None = Field(default=None, description="URL reachable inside the cluster.")


class TrafficTarget(StatusModel):
    """Share of traffic a revision receives."""

    revision_name: str | None = Field(default=None, description="Name of the revision.")
    percent: int | None = Field(default=None, description="Percent of traffic it receives.")
    latest_revision: bool | None = Field(
        default=None, description="Whether this is the latest revision."
    )
    tag: str | None = Field(default=None, description="Tag of the revision (prev, latest).")
    url: str | None = Field(default=None, description="In-cluster URL of the revision.")


class ComponentStatus(StatusModel):
    """Observed state of one component (predictor or transformer)."""

    url: str | None = Field(default=None, description="URL of the component.")
    grpc_url: str | None = Field(default=None, description="gRPC URL of the component.")
    address: Addressable | None = Field(default=None, description="In-cluster address.")
    latest_created_revision: str | None = Field(
        default=None, description="Latest revision created."
    )
    latest_ready_revision: str | None = Field(
        default=None, description="Latest revision that became ready."
    )
    latest_rolledout_revision: str | None = Field(
        default=None, description="Latest revision that received all its traffic."
    )
    previous_rolledout_revision: str | None = Field(
        default=None, description="Revision rolled out before the latest one."
    )
    traffic: list[TrafficTarget] | None = Field(
        default=None, description="Traffic split between revisions."
    )


class ModelRevisionStates(StatusModel):
    """Active and target state of the model."""

    active_model_state: str | None = Field(
        default=None,
        description="State of the model serving traffic: Pending, Standby, Loading, Loaded, "
        "FailedToLoad; on a multi-model pool also Unloaded (evicted by the pool's LRU: the next "
        "request loads it again).",
    )
    target_model_state: str | None = Field(
        default=None, description="State of the model being rolled out (same values)."
    )


class FailureInfo(StatusModel):
    """The last failure to load the model."""

    location: str | None = Field(default=None, description="Pod or node where it failed.")
    reason: str | None = Field(
        default=None,
        description="Why: a spec reason (NoSupportingRuntime, RuntimeNotRecognized, "
        "InvalidPredictorSpec) or a pod's (Unschedulable, ImagePullBackOff, CrashLoopBackOff, "
        "StorageInitializerFailed, ModelLoadFailed, ProgressDeadlineExceeded).",
    )
    message: str | None = Field(default=None, description="Details of the failure.")
    model_revision_id: str | None = Field(default=None, description="Revision that failed.")
    time: str | None = Field(default=None, description="When it failed (RFC 3339).")
    exit_code: int | None = Field(default=None, description="Exit code of the failed container.")


class ModelCopies(StatusModel):
    """How many copies of the model are loaded."""

    failed_copies: int | None = Field(default=None, description="Copies that failed to load.")
    total_copies: int | None = Field(default=None, description="Copies loaded in total.")


class PoolPlacement(StatusModel):
    """Where a model on a multi-model pool is (a modelplane extension of modelStatus)."""

    pool: str | None = Field(default=None, description="The pool's StatefulSet.")
    replicas: list[str] | None = Field(
        default=None, description="Pool replicas (pods) the model is registered on."
    )
    memory: int | None = Field(
        default=None,
        description="The model's size in bytes: measured by the server when it was loaded, "
        "else as declared (resources.requests.memory).",
    )


class ModelStatus(StatusModel):
    """Observed state of the model."""

    transition_status: str | None = Field(
        default=None,
        description="UpToDate, InProgress, BlockedByFailedLoad or InvalidSpec.",
    )
    states: ModelRevisionStates | None = Field(default=None, description="Model states.")
    last_failure_info: FailureInfo | None = Field(
        default=None, description="The last failure to load the model."
    )
    copies: ModelCopies | None = Field(default=None, description="Loaded copies of the model.")
    placement: PoolPlacement | None = Field(
        default=None, description="On a multi-model pool: the replicas that hold the model."
    )


class InferenceServiceStatus(StatusModel):
    """Observed state of an InferenceService."""

    url: str | None = Field(default=None, description="URL clients call (the ingress when set).")
    address: Addressable | None = Field(default=None, description="In-cluster address.")
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra=list_map("type"),
        description="PredictorReady, TransformerReady, IngressReady and Ready.",
    )
    components: dict[str, ComponentStatus] | None = Field(
        default=None, description="Status of each component by name: predictor, transformer."
    )
    model_status: ModelStatus | None = Field(default=None, description="State of the model.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status describes."
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
    "ComponentStatus",
    "InferenceService",
    "InferenceServiceSpec",
    "InferenceServiceStatus",
    "ModelFormat",
    "ModelSpec",
    "ModelStatus",
    "PredictorSpec",
    "TransformerSpec",
]
