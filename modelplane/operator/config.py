"""Operator configuration: images, ingress, defaults, GPU resource names, storage puller.

Read from environment variables `MODELPLANE_OPERATOR_*` (JSON for dicts) and, optionally,
from a YAML file (a mounted ConfigMap key); the environment overrides the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

# Extended resource name (a trailing `*` matches a prefix, e.g. MIG profiles) -> taint key
# that nodes offering it carry, so that pods asking for it tolerate that taint.
DEFAULT_GPU_RESOURCES: dict[str, str] = {
    "nvidia.com/gpu": "nvidia.com/gpu",
    "nvidia.com/mig-*": "nvidia.com/gpu",
    "amd.com/gpu": "amd.com/gpu",
}

DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "2Gi"},
}


class GatewayRef(BaseModel):
    """A Gateway API `Gateway` that HTTPRoutes attach to (their `parentRefs`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=253)
    namespace: str = Field(min_length=1, max_length=63)


class OperatorConfig(BaseSettings):
    """Everything the render functions need besides the custom resources themselves."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_OPERATOR_", extra="forbid")

    model_server_image: str = "modelplane/model-server:0.1.0"
    model_server_gpu_image: str = "modelplane/model-server-cuda:0.1.0"
    router_image: str = "modelplane/router:0.1.0"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None

    ingress_domain: str | None = Field(
        default=None, description="When set, each InferenceService/Graph gets an Ingress."
    )
    ingress_class: str | None = None
    gateway: GatewayRef | None = Field(
        default=None,
        description="When set (with ingressDomain), HTTPRoutes attached to this Gateway replace "
        "the Ingresses, and canaryTrafficPercent splits traffic between revisions by weight.",
    )
    url_scheme: Literal["http", "https"] = "http"
    ingress_probe_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#]+/?$",
        description="http(s)://ADDRESS[:PORT] of the Ingress controller (or the Gateway) as the "
        "operator reaches it. When set, IngressReady waits until a request for the host sent "
        "there reaches the service's own pods (the controller may route a host seconds after "
        "its pods are Ready); unset, IngressReady follows the Ingress or HTTPRoute object.",
    )

    default_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_RESOURCES.items()}
    )
    router_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        }
    )
    gpu_resources: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_GPU_RESOURCES))

    default_scale_target: int = 80

    # Scale to zero (docs/operator.md, "Scale to zero"): the operator process also serves the
    # activator on this port; a Service at zero is sent there through an EndpointSlice.
    activator_service: str | None = Field(
        default=None,
        description="NAMESPACE/NAME of the Service in front of the operator's activator port; "
        "unset: minReplicas 0 is refused (InvalidPredictorSpec).",
    )
    activator_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port of the activator in the operator."
    )
    activator_bind: str = Field(
        default="127.0.0.1", description="Address the activator listens on (0.0.0.0 in a pod)."
    )
    wake_timeout_seconds: float = Field(
        default=120.0, gt=0, description="How long a request held at zero waits for a pod."
    )
    max_held_requests: int = Field(
        default=1000, ge=1, description="Requests held at once per component while it wakes."
    )
    idle_check_seconds: float = Field(
        default=5.0, gt=0, description="How often the idle clock reads the model servers."
    )
    handover_seconds: float = Field(
        default=15.0,
        ge=0,
        description="An idle component's Service points at the activator this long before "
        "its pods go, so that every proxy (kube-proxy, the Ingress controller) has switched.",
    )

    # Multi-model pools (docs/operator.md, "Multi-model pools").
    pool_memory_overhead: str = Field(
        default="512Mi",
        description="Memory a pool replica's server needs besides its models: added to "
        "capacity.memory for the container's memory request and limit when the runtime sets "
        "no memory limit.",
    )
    pool_check_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often a pool's placement and its replicas' models are checked again "
        "(evictions, restarts).",
    )
    pool_load_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long the operator waits for one model to load on a pool replica.",
    )

    storage_initializer_image: str = "modelplane/model-server:0.1.0"
    storage_initializer_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        }
    )
    storage_s3_endpoint: str | None = None
    storage_s3_region: str | None = None
    storage_gcs_endpoint: str | None = None

    pre_stop_seconds: int = Field(
        default=5,
        ge=0,
        le=60,
        description="Seconds a stopping model server or router keeps serving (a preStop "
        "sleep) while proxies drop its endpoint; 0 turns it off.",
    )

    resync_seconds: float = Field(default=60.0, gt=0)
    dependency_retry_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _gateway_needs_domain(self) -> OperatorConfig:
        if self.gateway is not None and not self.ingress_domain:
            raise ValueError("gateway needs ingressDomain: routes are served on its host names")
        if self.ingress_probe_url is not None and not self.ingress_domain:
            raise ValueError("ingressProbeUrl needs ingressDomain: it probes the Ingress hosts")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment wins over values passed in (those come from the config file)."""
        return env_settings, init_settings


def load_config(
    path: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> OperatorConfig:
    """Config from an optional YAML file (snake_case or camelCase keys) plus the environment."""
    values: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of settings")
        values = {_snake(str(k)): v for k, v in loaded.items()}
    values.update(overrides or {})
    return OperatorConfig(**values)


def _snake(key: str) -> str:
    """`ingressDomain` -> `ingress_domain`; snake_case keys pass unchanged."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key).lstrip("_")
