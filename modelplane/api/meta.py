"""Shared building blocks of the custom resources: base model, object metadata, conditions."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP = "serving.modelplane.io"


class ApiModel(BaseModel):
    """Base of every spec type: camelCase on the wire, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,  # like the API server: "2" is not an integer, "yes" is not a boolean
    )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")


class StatusModel(ApiModel):
    """Base of status types: tolerant of fields a newer operator may write."""

    model_config = ConfigDict(extra="ignore")


class ObjectMeta(BaseModel):
    """The parts of Kubernetes ObjectMeta that modelplane reads; the rest is kept as is."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None


class Condition(StatusModel):
    """One observed aspect of a resource (Knative/KServe condition shape)."""

    type: str = Field(
        description="Type of the condition, e.g. Ready, PredictorReady, IngressReady."
    )
    status: str = Field(description="Status of the condition: True, False or Unknown.")
    severity: str | None = Field(
        default=None, description="Severity when status is False: Error, Warning or Info."
    )
    last_transition_time: str | None = Field(
        default=None, description="Last time the condition changed status (RFC 3339)."
    )
    reason: str | None = Field(
        default=None, description="One-word CamelCase reason for the last transition."
    )
    message: str | None = Field(
        default=None, description="Human-readable details of the condition."
    )


class Resource(BaseModel):
    """Base of a top-level custom resource: apiVersion, kind, metadata, spec, status."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )

    API_VERSION: ClassVar[str]
    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()
    NAMESPACED: ClassVar[bool] = True
    # CEL rules on the whole object (only metadata.name/generateName are visible to them).
    ROOT_RULES: ClassVar[tuple[dict[str, str], ...]] = ()

    api_version: str = Field(default="", description="APIVersion of the object.")
    kind: str = Field(default="", description="Kind of the object.")
    metadata: ObjectMeta = Field(
        default_factory=ObjectMeta, description="Standard object metadata."
    )

    @model_validator(mode="before")
    @classmethod
    def _type_meta(cls, data: Any) -> Any:
        """Fill apiVersion/kind when absent; reject an object of another kind."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, attr, want in (
            ("apiVersion", "api_version", cls.API_VERSION),
            ("kind", "kind", cls.KIND),
        ):
            given = data.pop(attr, None) if attr in data else data.get(key)
            if given in (None, ""):
                given = want
            if given != want:
                raise ValueError(f"{key} must be {want!r}, got {given!r}")
            data[key] = given
        return data

    @classmethod
    def group_version(cls) -> tuple[str, str]:
        """(group, version) of this kind."""
        group, _, version = cls.API_VERSION.partition("/")
        return group, version

    def to_dict(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_unset=True, exclude_none=True, mode="json")


DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_RULE = {
    "rule": "size(self.metadata.name) <= 63 && self.metadata.name.matches('" + DNS_LABEL + "')",
    "message": "metadata.name must be a DNS-1035 label: at most 63 lowercase letters, digits "
    "and '-', starting with a letter (it names Services and labels)",
}


def check_dns_label(meta: ObjectMeta) -> None:
    """Raise when a set metadata.name breaks DNS_LABEL_RULE."""
    name = meta.name
    if name is not None and (len(name) > 63 or re.match(DNS_LABEL, name) is None):
        raise ValueError(DNS_LABEL_RULE["message"])


def condition_status(conditions: list[Condition], type_: str) -> str | None:
    """Status ('True', 'False', 'Unknown') of the condition of that type, or None."""
    return next((c.status for c in conditions if c.type == type_), None)


CEL = "x-kubernetes-validations"


def list_map(*keys: str) -> JsonDict:
    """json_schema_extra making a list a map keyed by those fields (unique keys, SSA merges)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def cel_rules(*rules: dict[str, str]) -> JsonDict:
    """json_schema_extra carrying CEL validation rules into the generated CRD schema."""
    return {CEL: [dict(r) for r in rules]}
