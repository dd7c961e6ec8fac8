"""The operator's one table of kinds: paths, the custom resources' rows, the children it prunes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelplane.api import CUSTOM_RESOURCES, GROUP, InferenceGraph, InferenceService, load_resources
from modelplane.operator import names
from modelplane.operator.kinds import BY_KIND, CHILD_KINDS, GRAPH, ISVC, TABLE, with_role
from tests.unit.operator.samples import SAMPLES, render_sample

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("kind", "namespace", "name", "path"),
    [
        ("Deployment", "ns", "d", "/apis/apps/v1/namespaces/ns/deployments/d"),
        ("Pod", "ns", None, "/api/v1/namespaces/ns/pods"),
        ("ConfigMap", None, None, "/api/v1/configmaps"),
        ("Ingress", "a b", "x", "/apis/networking.k8s.io/v1/namespaces/a%20b/ingresses/x"),
        (ISVC, None, None, "/apis/serving.modelplane.io/v1beta1/inferenceservices"),
        (
            "ClusterServingRuntime",
            "ignored",
            "onnx",
            "/apis/serving.modelplane.io/v1alpha1/clusterservingruntimes/onnx",
        ),
    ],
)
def test_rest_paths(kind: str, namespace: str | None, name: str | None, path: str) -> None:
    assert BY_KIND[kind].path(namespace, name) == path


def test_custom_resource_rows_agree_with_the_generated_crds() -> None:
    rows = {k.kind: k for k in TABLE if k.group == GROUP}
    assert set(rows) == {cls.KIND for cls in CUSTOM_RESOURCES}
    for path in (ROOT / "crds").glob("serving.modelplane.io_*.yaml"):
        crd = yaml.safe_load(path.read_text())
        row = rows[crd["spec"]["names"]["kind"]]
        assert crd["spec"]["group"] == row.group == GROUP
        assert crd["spec"]["names"]["plural"] == row.plural
        assert [v["name"] for v in crd["spec"]["versions"] if v["storage"]] == [row.version]
        assert crd["spec"]["scope"] == ("Namespaced" if row.namespaced else "Cluster")


def test_owners_are_the_two_reconciled_kinds_and_pods_are_only_read() -> None:
    assert [k.kind for k in with_role("owner")] == [InferenceService.KIND, InferenceGraph.KIND]
    assert [k.kind for k in with_role("observed")] == ["Pod"]


def test_child_kinds_per_owner() -> None:
    assert CHILD_KINDS == {
        ISVC: (
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "Ingress",
            "HTTPRoute",
            "EndpointSlice",
        ),
        GRAPH: (
            "ConfigMap",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "Ingress",
            "HTTPRoute",
        ),
    }


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_every_rendered_child_is_a_kind_its_owner_prunes(sample: Path) -> None:
    """A rendered kind missing from the table would be applied but never pruned or watched."""
    owners = {r.kind for r in load_resources(sample)}
    for obj in render_sample(sample):
        labels = obj["metadata"]["labels"]
        owner = GRAPH if names.GRAPH_LABEL in labels else ISVC
        assert owner in owners
        assert obj["kind"] in CHILD_KINDS[owner], f"{obj['kind']} of a {owner}"
        assert obj["apiVersion"] == BY_KIND[obj["kind"]].api_version
