"""The observed state of an InferenceService: its status subresource's types.

KServe's field names (``components``, ``modelStatus``, ``traffic``...) and this project's
extensions (``modelStatus.placement`` on a multi-model pool). The operator writes these
(`modelplane.operator.status`); the spec's types are `modelplane.api.inference_service`'s.
"""

from __future__ import annotations

from pydantic import Field

from modelplane.api.meta import Condition, StatusModel, list_map


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


__all__ = [
    "Addressable",
    "ComponentStatus",
    "FailureInfo",
    "InferenceServiceStatus",
    "ModelCopies",
    "ModelRevisionStates",
    "ModelStatus",
    "PoolPlacement",
    "TrafficTarget",
]
