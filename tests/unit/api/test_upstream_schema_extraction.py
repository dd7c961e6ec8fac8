"""Core-type schemas from kube-apiserver's OpenAPI v3 become structural, inlined CRD schemas."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.api import upstream_schemas

P = "io.k8s.api.core.v1."
REF = "#/components/schemas/"

DOC: dict[str, Any] = {
    "components": {
        "schemas": {
            P + "Thing": {
                "description": "A thing.",
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "default": "", "description": "Name."},
                    "size": {
                        "allOf": [{"$ref": REF + "io.k8s.apimachinery.pkg.api.resource.Quantity"}],
                        "description": "Size.",
                    },
                    "ports": {
                        "type": "array",
                        "description": "Ports.",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port", "protocol"],
                        "x-kubernetes-patch-merge-key": "port",
                        "x-kubernetes-patch-strategy": "merge",
                        "items": {"allOf": [{"$ref": REF + P + "Port"}], "default": {}},
                    },
                },
            },
            P + "Port": {
                "description": "A port.",
                "properties": {
                    "port": {"type": "integer", "default": 0, "description": "Number."},
                    "protocol": {"type": "string", "default": "TCP", "description": "Protocol."},
                    "note": {"type": "string", "default": "x", "description": "Note."},
                },
            },
            "io.k8s.apimachinery.pkg.api.resource.Quantity": {
                "description": "Long text.",
                "oneOf": [{"type": "string"}, {"type": "number"}],
            },
            P + "Loop": {
                "type": "object",
                "properties": {"next": {"allOf": [{"$ref": REF + P + "Loop"}]}},
            },
        }
    }
}


def test_refs_are_inlined_and_made_structural() -> None:
    thing = upstream_schemas.extract(DOC, (P + "Thing",))[P + "Thing"]
    assert thing["properties"]["name"] == {"type": "string", "description": "Name."}
    assert thing["properties"]["size"] == {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "description": "Size.",
    }
    ports = thing["properties"]["ports"]
    assert (
        "x-kubernetes-patch-merge-key" not in ports and "x-kubernetes-patch-strategy" not in ports
    )
    item = ports["items"]
    assert item["type"] == "object" and "default" not in item
    # list-map keys keep their defaults (the API server requires a default or required key)
    assert item["properties"]["port"]["default"] == 0
    assert item["properties"]["protocol"]["default"] == "TCP"
    assert "default" not in item["properties"]["note"]
    assert "$ref" not in str(thing) and "allOf" not in str(thing)


def test_recursive_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="recursive"):
        upstream_schemas.extract(DOC, (P + "Loop",))


def test_committed_file_has_every_root() -> None:
    assert set(upstream_schemas.load()) == set(upstream_schemas.ROOTS)
