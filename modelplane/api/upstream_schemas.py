"""Extract Kubernetes core-type schemas from kube-apiserver's OpenAPI v3 as structural CRD schemas.

The result is committed as schemas/core_v1.json so CRD generation stays offline and
deterministic. Source: `kubectl get --raw /openapi/v3/api/v1` of a real kube-apiserver (1.34);
a cluster test checks the committed file equals what the test API server serves. (The copy
published in the Kubernetes source tree lacks the enums a running server includes.)
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

Schema = dict[str, Any]

ROOTS = (
    "io.k8s.api.core.v1.Affinity",
    "io.k8s.api.core.v1.Container",
    "io.k8s.api.core.v1.EnvVar",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ResourceRequirements",
    "io.k8s.api.core.v1.Toleration",
)
REF_PREFIX = "#/components/schemas/"
INT_OR_STRING = (
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
)
# Extensions the CRD schema language (JSONSchemaProps) does not accept.
DROPPED = {
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-unions",
    "x-kubernetes-group-version-kind",
}


def _inline(node: Any, defs: dict[str, Schema], seen: tuple[str, ...] = ()) -> Any:
    """Resolve every $ref (bare or wrapped in allOf) into a copy of its definition."""
    if isinstance(node, list):
        return [_inline(v, defs, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if ref is None and isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        ref = node["allOf"][0].get("$ref")
    if ref is None:
        return {k: _inline(v, defs, seen) for k, v in node.items()}
    name = ref.removeprefix(REF_PREFIX)
    if name in seen:
        raise ValueError(f"recursive schema {' -> '.join((*seen, name))} cannot be inlined")
    outer = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
    if name in INT_OR_STRING:
        target: Schema = {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
        }
    else:
        target = dict(_inline(defs[name], defs, (*seen, name)))
    if "description" in outer:
        target.pop("description", None)
    return {**target, **_inline(outer, defs, seen)}


def _structural(
    node: Schema, keep_default: bool = False, map_keys: frozenset[str] = frozenset()
) -> Schema:
    """Drop defaults (except on list-map keys, which need one) and unsupported extensions."""
    out: Schema = {}
    for key, value in node.items():
        if key in DROPPED or (key == "format" and value == "int-or-string"):
            continue
        if key == "default" and not keep_default:
            continue
        if key == "properties":
            out[key] = {k: _structural(v, keep_default=k in map_keys) for k, v in value.items()}
        elif key == "items":
            is_map = node.get("x-kubernetes-list-type") == "map"
            keys = frozenset(node.get("x-kubernetes-list-map-keys", ())) if is_map else frozenset()
            out[key] = _structural(value, map_keys=keys)
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = _structural(value)
        elif key == "anyOf":
            out[key] = [_structural(v) for v in value]
        else:
            out[key] = value
    if "properties" in out and "type" not in out:
        out["type"] = "object"
    return out


def extract(openapi: dict[str, Any], roots: tuple[str, ...] = ROOTS) -> dict[str, Schema]:
    """Structural, fully inlined schemas of the root definitions of an OpenAPI v3 document."""
    defs: dict[str, Schema] = openapi["components"]["schemas"]
    return {name: _structural(_inline(defs[name], defs)) for name in roots}


def load() -> dict[str, Schema]:
    """The committed core schemas (schemas/core_v1.json)."""
    text = resources.files("modelplane.api").joinpath("schemas/core_v1.json").read_text("utf-8")
    data: dict[str, Schema] = json.loads(text)
    return data
