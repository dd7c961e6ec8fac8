"""Kubernetes core types used inside the custom resources (their CRD schema is upstream's)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

# Marks a type whose CRD schema is the upstream Kubernetes definition of that name
# (see schemas/core_v1.json); the CRD generator substitutes it.
UPSTREAM = "x-modelplane-upstream"

Quantity = int | str
"""A Kubernetes resource quantity: 1, "500m", "2Gi"."""


def _upstream(name: str) -> dict[str, Any]:
    return {UPSTREAM: f"io.k8s.api.core.v1.{name}"}


class _Core(BaseModel):
    """Base of core types: camelCase on the wire like Kubernetes itself."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")


class ResourceRequirements(_Core):
    """Compute resources of a container: limits and requests by resource name."""

    model_config = ConfigDict(json_schema_extra=_upstream("ResourceRequirements"))

    limits: dict[str, Quantity] = Field(default_factory=dict)
    requests: dict[str, Quantity] = Field(default_factory=dict)
    claims: list[dict[str, Any]] | None = None


class EnvVar(_Core):
    """One environment variable of a container."""

    model_config = ConfigDict(json_schema_extra=_upstream("EnvVar"))

    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = None


class Toleration(_Core):
    """A pod toleration of a node taint."""

    model_config = ConfigDict(json_schema_extra=_upstream("Toleration"))

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class LocalObjectReference(_Core):
    """A reference to an object in the same namespace, e.g. an image pull secret."""

    model_config = ConfigDict(json_schema_extra=_upstream("LocalObjectReference"))

    name: str


class Container(_Core):
    """A Kubernetes container; fields not typed here (probes, volumeMounts, ...) pass through."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_upstream("Container"))

    name: str
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    ports: list[dict[str, Any]] | None = None
    resources: ResourceRequirements | None = None


Affinity = Annotated[dict[str, Any], WithJsonSchema(_upstream("Affinity"))]
"""Pod affinity rules, kept as the upstream dict (nodeAffinity, podAffinity, ...)."""


def check_unique_names(containers: list[Container] | None) -> list[Container] | None:
    """Raise when two containers share a name (the CRD lists are maps keyed by name)."""
    names = [c.name for c in containers or []]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Duplicate value: container names {duplicates} are not unique")
    return containers
