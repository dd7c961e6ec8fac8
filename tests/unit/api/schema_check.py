"""Check an object against a generated CRD schema offline: OpenAPI rules plus unknown fields.

CEL rules are not evaluated here; the API-server tests cover them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
CRDS = ROOT / "crds"
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every CRD in crds/."""
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)
        for version in crd["spec"]["versions"]:
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            out[key] = version["schema"]["openAPIV3Schema"]
    return out


def schema_for(obj: dict[str, Any]) -> dict[str, Any]:
    """The CRD schema of obj's apiVersion/kind."""
    return schemas()[(obj["apiVersion"], obj["kind"])]


def unknown_fields(obj: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Dotted paths of fields the schema does not declare (the API server rejects them)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(obj, dict) and "properties" in schema:
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else key
            if key not in schema["properties"]:
                found.append(sub)
            else:
                found += unknown_fields(value, schema["properties"][key], sub)
    elif isinstance(obj, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in obj.items():
            found += unknown_fields(value, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(obj, list) and "items" in schema:
        for i, value in enumerate(obj):
            found += unknown_fields(value, schema["items"], f"{path}.{i}")
    return found


def problems(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted path, message) for each way obj breaks its CRD's OpenAPI schema."""
    schema = schema_for(obj)
    validator = jsonschema.Draft7Validator(schema)
    found = []
    for error in validator.iter_errors(obj):
        parts = [str(p) for p in error.absolute_path]
        if error.validator == "required":  # name the missing field, as the API server does
            parts.append(error.message.split("'")[1])
        found.append((".".join(parts), error.message))
    found += [(path, "unknown field") for path in unknown_fields(obj, schema)]
    return found
