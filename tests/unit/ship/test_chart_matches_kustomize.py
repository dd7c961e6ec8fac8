"""`kubectl apply -k manifests/base` and `helm install` with default values create the same objects."""

from __future__ import annotations

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


def test_chart_crds_are_the_generated_crds() -> None:
    generated = {p.name: p.read_text() for p in (REPO / "crds").glob("*.yaml")}
    copied = {p.name: p.read_text() for p in (CHART / "crds").glob("*.yaml")}
    assert generated, "crds/ is empty"
    assert copied == generated, "charts/modelplane/crds/ is stale: run `make sync-chart`"


def test_chart_runtimes_are_the_default_runtimes() -> None:
    runtimes = REPO / "manifests" / "runtimes"
    listed = yaml.safe_load((runtimes / "kustomization.yaml").read_text())["resources"]
    want = {name: (runtimes / name).read_text() for name in listed}
    got = {p.name: p.read_text() for p in (CHART / "files" / "runtimes").glob("*.yaml")}
    assert got == want, "charts/modelplane/files/runtimes/ is stale: run `make sync-chart`"


def test_crds_kustomization_lists_every_generated_crd() -> None:
    crds: Path = REPO / "crds"
    listed = yaml.safe_load((crds / "Kustomization").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in crds.glob("*.yaml"))


def test_every_chart_object_has_a_key(client_tools: ClientTools) -> None:
    # A template that renders an object without kind or name would hide from the comparison.
    for obj in helm_template(client_tools):
        assert all(key(obj)[i] for i in (0, 2)), obj
