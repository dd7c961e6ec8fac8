"""The custom resources as typed models: InferenceService, InferenceGraph, (Cluster)ServingRuntime."""

from modelplane.api.core import (
    Container,
    EnvVar,
    LocalObjectReference,
    ResourceRequirements,
    Toleration,
)
from modelplane.api.inference_graph import (
    InferenceGraph,
    InferenceGraphSpec,
    InferenceGraphStatus,
    InferenceRouter,
    InferenceStep,
)
from modelplane.api.inference_service import (
    Batcher,
    ComponentSpec,
    InferenceService,
    InferenceServiceSpec,
    ModelFormat,
    ModelSpec,
    PredictorSpec,
    TransformerSpec,
)
from modelplane.api.inference_service_status import (
    ComponentStatus,
    InferenceServiceStatus,
    ModelStatus,
)
from modelplane.api.meta import GROUP, Condition, ObjectMeta, Resource, condition_status
from modelplane.api.multi_model import (
    STORAGE_SECRET_ANNOTATION,
    copies,
    declared_memory,
    pool_refusals,
)
from modelplane.api.quantity import to_int
from modelplane.api.resources import (
    CUSTOM_RESOURCES,
    AnyResource,
    UnknownKindError,
    iter_documents,
    kind_of,
    load_resources,
    parse_resource,
)
from modelplane.api.runtime_selection import NoRuntimeError, select_runtime, supports
from modelplane.api.serving_runtime import (
    GPU_IMAGE_ANNOTATION,
    ClusterServingRuntime,
    PoolCapacity,
    ServingRuntime,
    ServingRuntimeSpec,
    SupportedModelFormat,
)

__all__ = [
    "CUSTOM_RESOURCES",
    "GPU_IMAGE_ANNOTATION",
    "GROUP",
    "STORAGE_SECRET_ANNOTATION",
    "AnyResource",
    "Batcher",
    "ClusterServingRuntime",
    "ComponentSpec",
    "ComponentStatus",
    "Condition",
    "Container",
    "EnvVar",
    "InferenceGraph",
    "InferenceGraphSpec",
    "InferenceGraphStatus",
    "InferenceRouter",
    "InferenceService",
    "InferenceServiceSpec",
    "InferenceServiceStatus",
    "InferenceStep",
    "LocalObjectReference",
    "ModelFormat",
    "ModelSpec",
    "ModelStatus",
    "NoRuntimeError",
    "ObjectMeta",
    "PoolCapacity",
    "PredictorSpec",
    "Resource",
    "ResourceRequirements",
    "ServingRuntime",
    "ServingRuntimeSpec",
    "SupportedModelFormat",
    "Toleration",
    "TransformerSpec",
    "UnknownKindError",
    "condition_status",
    "copies",
    "declared_memory",
    "iter_documents",
    "kind_of",
    "load_resources",
    "parse_resource",
    "pool_refusals",
    "select_runtime",
    "supports",
    "to_int",
]
