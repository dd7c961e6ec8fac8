"""ServingRuntime and ClusterServingRuntime (serving.modelplane.io/v1alpha1): model servers."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from modelplane.api.core import (
    Affinity,
    Container,
    LocalObjectReference,
    Toleration,
    check_unique_names,
)
from modelplane.api.inference_service import ProtocolVersion
from modelplane.api.meta import GROUP, ApiModel, Resource, list_map

GPU_IMAGE_ANNOTATION = f"{GROUP}/gpu-image"
"""Runtime annotation naming the image that replaces containers[0].image on GPU predictors."""


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

    supported_model_formats: list[SupportedModelFormat] = Field(
        default_factory=list,
        max_length=64,
        description="Model formats this runtime serves.",
    )
    multi_model: bool | None = Field(
        default=None, description="Whether one server loads many models (not yet used)."
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
