"""crds/ is exactly what the models generate, and every generated schema is structural."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from modelplane.api import CUSTOM_RESOURCES
from modelplane.api.cli import main, rendered_files, stale_files
from tests.unit.api.schema_check import CRDS, LOADER, schemas

# Keywords a structural CRD schema may carry (apiextensions JSONSchemaProps we use).
ALLOWED = {
    "description",
    "type",
    "format",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "anyOf",
    "default",
    "x-kubernetes-validations",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}


def test_crds_directory_matches_the_models() -> None:
    assert stale_files(CRDS) == [], "crds/ is stale: run `make crds`"


def test_check_mode_reports_a_stale_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for name, text in rendered_files().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["--check", str(tmp_path)]) == 0
    victim = sorted(tmp_path.iterdir())[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    (tmp_path / "leftover.yaml").write_text("{}", encoding="utf-8")
    assert main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert victim.name in err and "leftover.yaml" in err


def test_one_crd_per_kind() -> None:
    assert {kind for _, kind in schemas()} == {cls.KIND for cls in CUSTOM_RESOURCES}


def _walk(node: dict[str, Any], path: str) -> list[str]:
    """Structural-schema violations under node."""
    bad = [f"{path}: keyword {k}" for k in node if k not in ALLOWED]
    if node.get("x-kubernetes-int-or-string"):
        if node.get("anyOf", [{"type": "integer"}, {"type": "string"}]) != [
            {"type": "integer"},
            {"type": "string"},
        ]:
            bad.append(f"{path}: int-or-string with other anyOf")
    elif "anyOf" in node:
        bad.append(f"{path}: anyOf outside int-or-string")
    elif "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        bad.append(f"{path}: no type")
    if "properties" in node and "additionalProperties" in node:
        bad.append(f"{path}: properties and additionalProperties together")
    for name, sub in node.get("properties", {}).items():
        if path == "" and name == "metadata":
            assert sub == {"type": "object"}, "the API server allows nothing else at metadata"
            continue
        if not sub.get("description"):
            bad.append(f"{path}.{name}: no description")
        bad += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        bad += _walk(node["items"], f"{path}[*]")
    if isinstance(node.get("additionalProperties"), dict):
        bad += _walk(node["additionalProperties"], f"{path}.*")
    return bad


@pytest.mark.parametrize("key", sorted(schemas()), ids=lambda k: k[1])
def test_schema_is_structural_and_documented(key: tuple[str, str]) -> None:
    schema = schemas()[key]
    assert _walk(schema, "") == []
    assert "$ref" not in str(schema)


def test_preserve_unknown_fields_is_not_used_by_our_own_types() -> None:
    # the only free-form parts are inside upstream core types (e.g. none today)
    for key, schema in schemas().items():
        spec = schema["properties"]["spec"]
        assert "x-kubernetes-preserve-unknown-fields" not in str(spec), key


def test_stdout_and_output_dir_modes(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    docs = [d for d in yaml.load_all(capsys.readouterr().out, Loader=LOADER) if d]
    assert sorted(d["metadata"]["name"] for d in docs) == sorted(
        f"{cls.PLURAL}.serving.modelplane.io" for cls in CUSTOM_RESOURCES
    )
    (tmp_path / "serving.modelplane.io_old.yaml").write_text("{}", encoding="utf-8")
    assert main(["--output-dir", str(tmp_path)]) == 0
    assert stale_files(tmp_path) == []
