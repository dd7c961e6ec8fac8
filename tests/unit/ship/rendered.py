"""Helpers for tests of rendered manifests: render the chart or the kustomize base, index objects."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.support.client_tools import ClientTools

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelplane"
BASE = REPO / "manifests" / "base"
NAMESPACE = "modelplane-system"
# Labels only Helm puts on objects; the kustomize base carries every other one.
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")
HELM_ONLY_ANNOTATIONS = ("checksum/config",)

# The CRDs are large: parse with libyaml when PyYAML has it.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Obj = dict[str, Any]
Key = tuple[str, str, str]


def docs(text: str) -> list[Obj]:
    """Every non-empty YAML document of a multi-document stream."""
    return [d for d in yaml.load_all(text, Loader=LOADER) if d]


def key(obj: Obj) -> Key:
    """(kind, namespace, name) of an object."""
    meta = obj.get("metadata", {})
    return (obj["kind"], meta.get("namespace", ""), meta["name"])


def index(objs: list[Obj]) -> dict[Key, Obj]:
    """Objects by key; a duplicate key is an error."""
    out: dict[Key, Obj] = {}
    for obj in objs:
        assert key(obj) not in out, f"duplicate object {key(obj)}"
        out[key(obj)] = obj
    return out


def helm_template(tools: ClientTools, *args: str, release: str = "modelplane") -> list[Obj]:
    """`helm template` of the chart with --include-crds and extra arguments."""
    out = tools.helm("template", release, str(CHART), "-n", NAMESPACE, "--include-crds", *args)
    return docs(out.stdout)


def kustomize(tools: ClientTools, path: Path = BASE) -> list[Obj]:
    """`kubectl kustomize` of a kustomization directory."""
    return docs(tools.kubectl("kustomize", str(path)).stdout)


def without_helm_metadata(obj: Obj) -> Obj:
    """A copy without the labels and annotations that only Helm adds."""
    out: Obj = copy.deepcopy(obj)
    for path, drop in (
        (("metadata", "labels"), HELM_ONLY_LABELS),
        (("spec", "template", "metadata", "annotations"), HELM_ONLY_ANNOTATIONS),
    ):
        node: Any = out
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            for name in drop:
                node.pop(name, None)
    annotations = out.get("spec", {}).get("template", {}).get("metadata", {})
    if annotations.get("annotations") == {}:
        del annotations["annotations"]
    return out


def config_data(configmap: Obj) -> Any:
    """The parsed operator settings of the operator's ConfigMap."""
    return yaml.safe_load(configmap["data"]["config.yaml"])
