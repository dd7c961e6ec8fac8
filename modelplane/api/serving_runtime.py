"""ServingRuntime and ClusterServingRuntime (serving.modelplane.io/v1alpha1): model servers."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from modelplane.api.core import (
    Affinity,
    Container,
    LocalObjectReference,
    Toleration,
    check_unique_names,
)
from modelplane.api.inference_service import ProtocolVersion
from modelplane.api.meta import GROUP, ApiModel, Resource, cel_rules, list_map
from modelplane.api.quantity import is_quantity, to_int

GPU_IMAGE_ANNOTATION = f"{GROUP}/gpu-image"
"""Runtime annotation naming the image that replaces containers[0].image on GPU predictors."""


QuantityValue = Annotated[int | str, WithJsonSchema({"x-kubernetes-int-or-string": True})]
"""A resource quantity (512Mi, 4Gi, 1000): int or string, like Kubernetes'."""


def _positive_quantity_rule(field: str) -> dict[str, str]:
    value = f"string(self.{field})"
    return {
        "rule": f"!has(self.{field}) || (isQuantity({value}) && "
        f"quantity({value}).isGreaterThan(quantity('0')))",
        "message": "must be a positive quantity such as 512Mi or 4Gi",
        "fieldPath": f".{field}",
    }


POOL_ONLY_RULES = tuple(
    {
        "rule": f"!has(self.{field}) || (has(self.multiModel) && self.multiModel)",
        "message": f"{field} is a setting of a shared pool: it needs multiModel: true",
        "fieldPath": f".{field}",
    }
    for field in ("replicas", "capacity")
)
POOL_CAPACITY_RULE = {
    "rule": "!has(self.multiModel) || !self.multiModel || has(self.capacity)",
    "message": "multiModel: true needs capacity.memory: the memory each pool replica offers "
    "its models",
    "fieldPath": ".multiModel",
}


def check_positive_quantity(value: int | str | None) -> int | str | None:
    """Raise unless the quantity parses and is above zero (mirrors the CEL rules)."""
    if value is not None and (not is_quantity(value) or to_int(value) <= 0):
        raise ValueError("must be a positive quantity such as 512Mi or 4Gi")
    return value


class PoolCapacity(ApiModel):
    """What one replica of a multi-model pool offers its models."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            _positive_quantity_rule("memory"), _positive_quantity_rule("gpuMemory")
        )
    )

    memory: QuantityValue = Field(
        description="Host memory the models of one replica may use in total (e.g. 4Gi); the "
        "server unloads the least recently used models beyond it. The replica's container gets "
        "this plus the operator's poolMemoryOverhead as its memory request and limit unless the "
        "runtime sets a memory limit (which must then be at least this).",
    )
    gpu_memory: QuantityValue | None = Field(
        default=None,
        description="GPU memory the models of one replica may use in total (a GPU pool; the "
        "runtime's container must ask for a GPU). A model that does not fit is refused, never "
        "loaded.",
    )

    _positive = field_validator("memory", "gpu_memory")(check_positive_quantity)

    @property
    def memory_bytes(self) -> int:
        """memory in bytes."""
        return to_int(self.memory)

    @property
    def gpu_memory_bytes(self) -> int:
        """gpuMemory in bytes (0: not a GPU pool)."""
        return to_int(self.gpu_memory) if self.gpu_memory is not None else 0


class SupportedModelFormat(ApiModel):
    """A model format a runtime can serve."""

    name: str = Field(min_length=1, max_length=63, description="Name of the format, e.g. onnx.")
    version: str | None = Field(
        default=None, max_length=63, description="Version of the format, when it matters."
    )
    auto_select: bool | None = Field(
        default=None,
        description="Whether a model of this format without spec.predictor.model.runtime "
        "may be placed on this runtime.",
    )
    priority: int | None = Field(
        default=None,
        ge=1,
        description="Preference among auto-selecting runtimes for this format; higher wins.",
    )


class ServingRuntimeSpec(ApiModel):
    """How to run a model server for some model formats."""

    model_config = ConfigDict(json_schema_extra=cel_rules(*POOL_ONLY_RULES, POOL_CAPACITY_RULE))

    supported_model_formats: list[SupportedModelFormat] = Field(
        default_factory=list,
        max_length=64,
        description="Model formats this runtime serves.",
    )
    multi_model: bool | None = Field(
        default=None,
        description="When true, the runtime is a shared pool: a StatefulSet of `replicas` "
        "servers per namespace that load the InferenceServices selecting it, placed by memory "
        "(`capacity`); those InferenceServices get no Deployment of their own.",
    )
    replicas: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="multiModel only: replicas of the pool (default 1).",
    )
    capacity: PoolCapacity | None = Field(
        default=None,
        description="multiModel only (and required there): what one pool replica offers "
        "its models.",
    )
    disabled: bool | None = Field(
        default=None, description="When true, no new predictor is placed on this runtime."
    )
    protocol_versions: list[ProtocolVersion] | None = Field(
        default=None,
        max_length=4,
        description="Inference protocols the server speaks (v2, grpc-v2).",
    )
    containers: list[Container] = Field(
        json_schema_extra=list_map("name"),
        min_length=1,
        max_length=8,
        description="Containers of the server; the first one serves the model. Its args may use "
        "{{.Name}} (the InferenceService name).",
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Node labels the server pods must match."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Tolerations of the server pods."
    )
    affinity: Affinity | None = Field(default=None, description="Affinity of the server pods.")
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None, description="Secrets used to pull the images."
    )
    labels: dict[str, str] | None = Field(
        default=None, description="Labels added to the server pods."
    )
    annotations: dict[str, str] | None = Field(
        default=None, description="Annotations added to the server pods."
    )

    _unique_containers = field_validator("containers")(check_unique_names)

    @model_validator(mode="after")
    def _pool_fields(self) -> ServingRuntimeSpec:
        for rule, given in zip(POOL_ONLY_RULES, (self.replicas, self.capacity), strict=True):
            if given is not None and not self.multi_model:
                raise ValueError(rule["message"])
        if self.multi_model and self.capacity is None:
            raise ValueError(POOL_CAPACITY_RULE["message"])
        return self

    @property
    def pool_replicas(self) -> int:
        """Replicas of the pool (multiModel)."""
        return self.replicas or 1


class ServingRuntime(Resource):
    """A model server template usable by InferenceServices in its namespace."""

    API_VERSION: ClassVar[str] = f"{GROUP}/v1alpha1"
    KIND: ClassVar[str] = "ServingRuntime"
    PLURAL: ClassVar[str] = "servingruntimes"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("sr",)

    spec: ServingRuntimeSpec = Field(description="Desired state.")

    def image(self, gpu: bool) -> str | None:
        """Image of the serving container: the GPU variant when asked for and declared."""
        gpu_image = self.metadata.annotations.get(GPU_IMAGE_ANNOTATION)
        return gpu_image if gpu and gpu_image else self.spec.containers[0].image


class ClusterServingRuntime(ServingRuntime):
    """A model server template usable by InferenceServices in every namespace."""

    KIND: ClassVar[str] = "ClusterServingRuntime"
    PLURAL: ClassVar[str] = "clusterservingruntimes"
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ("csrt",)  # "csr" is CertificateSigningRequest
    NAMESPACED: ClassVar[bool] = False
