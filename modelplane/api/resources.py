"""Parse custom-resource objects (dicts or YAML) into their typed models by apiVersion/kind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import yaml

from modelplane.api.inference_graph import InferenceGraph
from modelplane.api.inference_service import InferenceService
from modelplane.api.meta import Resource
from modelplane.api.serving_runtime import ClusterServingRuntime, ServingRuntime

CUSTOM_RESOURCES: tuple[type[Resource], ...] = (
    InferenceService,
    InferenceGraph,
    ServingRuntime,
    ClusterServingRuntime,
)

AnyResource = InferenceService | InferenceGraph | ServingRuntime | ClusterServingRuntime


class UnknownKindError(ValueError):
    """The object's apiVersion/kind is not one of modelplane's custom resources."""


def kind_of(api_version: str, kind: str) -> type[Resource]:
    """The model class for an apiVersion/kind pair."""
    for cls in CUSTOM_RESOURCES:
        if api_version == cls.API_VERSION and kind == cls.KIND:
            return cls
    known = ", ".join(f"{c.API_VERSION} {c.KIND}" for c in CUSTOM_RESOURCES)
    raise UnknownKindError(f"unknown apiVersion/kind {api_version!r}/{kind!r}; known: {known}")


def parse_resource(obj: dict[str, Any]) -> AnyResource:
    """Validate one object into its typed model; raises pydantic.ValidationError when invalid."""
    cls = kind_of(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    return cast(AnyResource, cls.model_validate(obj))


def iter_documents(text: str) -> Iterator[dict[str, Any]]:
    """The non-empty YAML (or JSON) documents in text (ValueError when it is not YAML)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}".replace("\n", " ")) from None
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"expected a mapping per YAML document, got {type(doc).__name__}")
        yield doc


def load_resources(path: str | Path) -> list[AnyResource]:
    """All custom resources in a YAML file (multi-document allowed)."""
    return [parse_resource(d) for d in iter_documents(Path(path).read_text(encoding="utf-8"))]
