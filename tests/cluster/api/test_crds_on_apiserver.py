"""The generated CRDs on a real kube-apiserver: samples pass, invalid objects fail naming the field."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelplane.api import InferenceService, PredictorSpec, upstream_schemas
from tests.unit.api.cases import CASES, Case, graph, root

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "crds"
MANIFESTS = sorted((ROOT / "manifests" / "samples").glob("*.yaml")) + sorted(
    (ROOT / "manifests" / "runtimes").glob("modelplane-*.yaml")
)


@pytest.fixture(scope="module")
def api_namespace(k8s_cluster: Any) -> Iterator[str]:
    """CRDs installed and established, plus a namespace for the objects."""
    k8s_cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=modelplane-tests",
        "-f",
        str(CRD_DIR),
    )
    k8s_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRD_DIR))
    name = f"api-{secrets.token_hex(3)}"
    k8s_cluster.kubectl("create", "namespace", name)
    yield name
    k8s_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_passes_server_side_dry_run(
    k8s_cluster: Any, api_namespace: str, path: Path
) -> None:
    result = k8s_cluster.kubectl(
        "apply", "--dry-run=server", "-n", api_namespace, "-f", str(path), check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_object_is_rejected_naming_the_field(
    k8s_cluster: Any, api_namespace: str, case: Case
) -> None:
    result = k8s_cluster.kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        api_namespace,
        "-f",
        "-",
        input=json.dumps(case.body),
        check=False,
    )
    assert result.returncode != 0, f"{case.id} was accepted"
    message = " ".join(result.stderr.split())
    assert _map_keys_dotted(case.field) in _map_keys_dotted(message), message
    if case.message:
        assert re.search(case.message, message), message


def test_step_extensions_are_stored_as_given(k8s_cluster: Any, api_namespace: str) -> None:
    step = {"serviceName": "b", "timeout": 0.5, "retries": 2, "mapping": {"y": "x"}}
    whole_seconds = {"serviceName": "a", "timeout": 3}  # an integer meets the CEL rule too
    rest_url = {"serviceUrl": "http://c.default/v2/models/c/infer", "protocol": "rest"}
    body = graph(root("Sequence", whole_seconds, step, rest_url), httpEdge="threads")
    result = k8s_cluster.kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        api_namespace,
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(body),
    )
    stored = json.loads(result.stdout)["spec"]
    assert stored["nodes"]["root"]["steps"] == [whole_seconds, step, rest_url]
    assert stored["httpEdge"] == "threads"  # every step speaks REST: the rule lets it be


def _map_keys_dotted(text: str) -> str:
    """The server writes a map key as [root] in CEL errors and as .root elsewhere."""
    return re.sub(r"\[([^\]0-9][^\]]*)\]", r".\1", text)


def test_explain_documents_every_predictor_field(k8s_cluster: Any, api_namespace: str) -> None:
    result = k8s_cluster.kubectl("explain", "inferenceservice.spec.predictor")
    text = " ".join(result.stdout.split())
    for name, field in PredictorSpec.model_fields.items():
        alias = field.alias or name
        assert f"{alias}\t" in result.stdout or f"{alias} <" in text, alias
        assert field.description
        first_words = " ".join(field.description.split()[:4])
        assert first_words in text, (alias, first_words)


def test_short_names_and_printer_columns(k8s_cluster: Any, api_namespace: str) -> None:
    sample = ROOT / "manifests" / "samples" / "isvc-onnx-cpu.yaml"
    k8s_cluster.kubectl("apply", "-n", api_namespace, "-f", str(sample))
    table = k8s_cluster.kubectl("get", "isvc", "-n", api_namespace).stdout
    assert table.split("\n")[0].split() == ["NAME", "URL", "READY", "REASON", "AGE"]
    assert "iris-onnx" in table
    for short, kind in [
        ("isvc", "InferenceService"),
        ("ig", "InferenceGraph"),
        ("sr", "ServingRuntime"),
        ("csrt", "ClusterServingRuntime"),
    ]:
        explained = k8s_cluster.kubectl("explain", short)
        assert re.search(rf"KIND:\s+{kind}\b", explained.stdout), explained.stdout
        assert "Warning" not in explained.stderr, explained.stderr
    listed = k8s_cluster.kubectl("get", "modelplane", "-n", api_namespace).stdout
    assert "inferenceservice.serving.modelplane.io/iris-onnx" in listed
    body = json.loads(
        k8s_cluster.kubectl("get", "isvc", "iris-onnx", "-n", api_namespace, "-o", "json").stdout
    )
    InferenceService.model_validate({k: v for k, v in body.items() if k != "status"})


def test_committed_core_schemas_are_the_api_servers(k8s_cluster: Any) -> None:
    served = json.loads(k8s_cluster.kubectl("get", "--raw", "/openapi/v3/api/v1").stdout)
    assert upstream_schemas.extract(served) == upstream_schemas.load()
