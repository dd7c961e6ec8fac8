"""`kubectl apply -k manifests/base` and `helm install` with default values create the same objects."""

from __future__ import annotations

import tarfile
from pathlib import Path

import yaml

from tests.support.client_tools import ClientTools
from tests.unit.ship.rendered import (
    CHART,
    REPO,
    Obj,
    config_data,
    helm_template,
    index,
    key,
    kustomize,
    without_helm_metadata,
)


def comparable(obj: Obj) -> Obj:
    """An object as compared: Helm-only metadata dropped, the operator settings parsed."""
    out = without_helm_metadata(obj)
    if out["kind"] == "ConfigMap":
        out["data"]["config.yaml"] = config_data(out)
    return out


def test_kustomize_base_renders_the_charts_default_objects(client_tools: ClientTools) -> None:
    chart = index([comparable(o) for o in helm_template(client_tools)])
    base = index([comparable(o) for o in kustomize(client_tools)])
    # Helm does not create its release namespace; the base does.
    namespaces = [k for k in base if k[0] == "Namespace"]
    assert namespaces == [("Namespace", "", "modelplane-system")]
    del base[namespaces[0]]
    assert sorted(base) == sorted(chart)
    for k, obj in chart.items():
        assert base[k] == obj, f"{k} differs between the chart and manifests/base"


def test_chart_reads_the_generated_crds_and_default_runtimes_in_place() -> None:
    # Links, not copies: the chart cannot drift from crds/ and manifests/runtimes/.
    assert (CHART / "crds").resolve() == (REPO / "crds").resolve()
    assert (CHART / "files" / "runtimes").resolve() == (REPO / "manifests" / "runtimes").resolve()


def test_packaged_chart_carries_the_crds_and_runtimes(
    client_tools: ClientTools, tmp_path: Path
) -> None:
    client_tools.helm("package", str(CHART), "-d", str(tmp_path))
    (archive,) = tmp_path.glob("modelplane-*.tgz")
    with tarfile.open(archive) as tar:
        packed = {m.name: m for m in tar.getmembers()}
    for crd in (REPO / "crds").glob("*.yaml"):
        member = packed[f"modelplane/crds/{crd.name}"]
        assert member.isfile() and member.size == crd.stat().st_size
    runtimes = yaml.safe_load((REPO / "manifests" / "runtimes" / "kustomization.yaml").read_text())
    for name in runtimes["resources"]:
        assert packed[f"modelplane/files/runtimes/{name}"].isfile()


def test_crds_kustomization_lists_every_generated_crd() -> None:
    crds: Path = REPO / "crds"
    listed = yaml.safe_load((crds / "Kustomization").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in crds.glob("*.yaml"))


def test_every_chart_object_has_a_key(client_tools: ClientTools) -> None:
    # A template that renders an object without kind or name would hide from the comparison.
    for obj in helm_template(client_tools):
        assert all(key(obj)[i] for i in (0, 2)), obj


def test_crds_kustomization_is_exactly_the_bases_crds(client_tools: ClientTools) -> None:
    crds_only = kustomize(client_tools, REPO / "manifests" / "crds")
    base = [o for o in kustomize(client_tools) if o["kind"] == "CustomResourceDefinition"]
    assert index(crds_only) == index(base)
    assert {o["kind"] for o in crds_only} == {"CustomResourceDefinition"}
