"""Generate CustomResourceDefinitions (structural OpenAPI v3 + CEL) from the typed models."""

from __future__ import annotations

from typing import Any

from modelplane.api import upstream_schemas
from modelplane.api.core import UPSTREAM
from modelplane.api.inference_graph import InferenceGraph
from modelplane.api.inference_service import InferenceService
from modelplane.api.meta import Resource
from modelplane.api.serving_runtime import ClusterServingRuntime, ServingRuntime

Schema = dict[str, Any]

CATEGORIES = ["modelplane"]
READY = '.status.conditions[?(@.type=="Ready")].status'
REASON = '.status.conditions[?(@.type=="Ready")].reason'
AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
STATUS_COLUMNS = [
    {"name": "URL", "type": "string", "jsonPath": ".status.url"},
    {"name": "Ready", "type": "string", "jsonPath": READY},
    {"name": "Reason", "type": "string", "jsonPath": REASON},
    AGE,
]
RUNTIME_COLUMNS = [
    {"name": "Formats", "type": "string", "jsonPath": ".spec.supportedModelFormats[*].name"},
    {"name": "Disabled", "type": "boolean", "jsonPath": ".spec.disabled"},
    AGE,
]
COLUMNS: dict[type[Resource], list[dict[str, str]]] = {
    InferenceService: STATUS_COLUMNS,
    InferenceGraph: STATUS_COLUMNS,
    ServingRuntime: RUNTIME_COLUMNS,
    ClusterServingRuntime: RUNTIME_COLUMNS,
}
# JSON-Schema keywords pydantic emits that a CRD schema does not want.
OMITTED = {"title", "default", "additionalProperties"}


class SchemaError(ValueError):
    """The models cannot be expressed as a structural, documented CRD schema."""


def _resolve(node: Schema, defs: dict[str, Schema]) -> Schema:
    """Inline a $ref and collapse Optional's anyOf-with-null; outer keys win."""
    while True:
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            outer = {k: v for k, v in node.items() if k != "$ref"}
            node = {**target, **outer}
        elif "anyOf" in node:
            options = [o for o in node["anyOf"] if o != {"type": "null"}]
            if len(options) != 1:
                raise SchemaError(f"unions cannot be expressed in a CRD: {node['anyOf']}")
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**options[0], **outer}
        else:
            return node


def convert(node: Schema, defs: dict[str, Schema], core: dict[str, Schema], path: str) -> Schema:
    """A pydantic JSON schema node as a structural CRD schema node (descriptions required)."""
    field_description = node.get("description")
    node = _resolve(node, defs)
    if UPSTREAM in node:
        upstream = dict(core[node[UPSTREAM]])
        if field_description is not None:  # the field's own words, not the class docstring
            upstream["description"] = field_description
        return upstream
    out: Schema = {}
    for key, value in node.items():
        if key in OMITTED:
            continue
        if key == "properties":
            props = {}
            for name, sub in value.items():
                if "description" not in _resolve(sub, defs) and "description" not in sub:
                    raise SchemaError(f"{path}.{name} has no description")
                props[name] = convert(sub, defs, core, f"{path}.{name}")
            out[key] = props
        elif key == "items":
            out[key] = convert(value, defs, core, f"{path}[*]")
        else:
            out[key] = value
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        out["additionalProperties"] = convert(extra, defs, core, f"{path}.*")
    elif extra is True or extra == {}:
        out["x-kubernetes-preserve-unknown-fields"] = True
    untyped = ("x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string")
    if "type" not in out and not any(k in out for k in untyped):
        raise SchemaError(f"{path} has no type")
    first = [k for k in ("description", "type") if k in out]
    return {**{k: out[k] for k in first}, **{k: v for k, v in out.items() if k not in first}}


def openapi_schema(cls: type[Resource], core: dict[str, Schema] | None = None) -> Schema:
    """The openAPIV3Schema of a resource kind."""
    core = upstream_schemas.load() if core is None else core
    raw = cls.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    props: Schema = {
        "apiVersion": {
            "type": "string",
            "description": f"APIVersion of the object: {cls.API_VERSION}.",
        },
        "kind": {"type": "string", "description": f"Kind of the object: {cls.KIND}."},
        # the API server owns metadata's schema: only `type: object` is allowed here
        "metadata": {"type": "object"},
    }
    for name in ("spec", "status"):
        if name in raw["properties"]:
            props[name] = convert(raw["properties"][name], defs, core, f".{name}")
    schema: Schema = {
        "type": "object",
        "description": raw["description"],
        "properties": props,
        "required": ["spec"],
    }
    if cls.ROOT_RULES:
        schema["x-kubernetes-validations"] = [dict(r) for r in cls.ROOT_RULES]
    return schema


def crd(cls: type[Resource], core: dict[str, Schema] | None = None) -> dict[str, Any]:
    """The CustomResourceDefinition of a resource kind."""
    group, version = cls.group_version()
    singular = cls.KIND.lower()
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": openapi_schema(cls, core)},
    }
    if "status" in cls.model_fields:
        served["subresources"] = {"status": {}}
    served["additionalPrinterColumns"] = COLUMNS[cls]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{cls.PLURAL}.{group}"},
        "spec": {
            "group": group,
            "names": {
                "kind": cls.KIND,
                "listKind": f"{cls.KIND}List",
                "plural": cls.PLURAL,
                "singular": singular,
                "shortNames": list(cls.SHORT_NAMES),
                "categories": CATEGORIES,
            },
            "scope": "Namespaced" if cls.NAMESPACED else "Cluster",
            "versions": [served],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """Every CRD modelplane defines, in a stable order."""
    core = upstream_schemas.load()
    return [crd(cls, core) for cls in COLUMNS]
