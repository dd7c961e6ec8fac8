"""Samples and default runtimes as the operator's unit tests see them."""

from __future__ import annotations

from pathlib import Path

from modelplane.api import (
    InferenceGraph,
    InferenceService,
    ServingRuntime,
    load_resources,
    select_runtime,
)
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.graph import (
    render_inference_graph,
    resolve_graph,
    service_names,
)
from modelplane.operator.render.isvc import render_inference_service
from modelplane.operator.render.meta import Obj

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = sorted((ROOT / "manifests" / "samples").glob("*.yaml"))
RUNTIMES = sorted((ROOT / "manifests" / "runtimes").glob("modelplane-*.yaml"))
CONFIG = OperatorConfig(ingress_domain="example.com", ingress_class="nginx")


def runtimes() -> list[ServingRuntime]:
    """The default ClusterServingRuntimes."""
    found = [r for path in RUNTIMES for r in load_resources(path)]
    return [r for r in found if isinstance(r, ServingRuntime)]


def stored(resource: InferenceService | InferenceGraph) -> InferenceService | InferenceGraph:
    """The resource as the API server would hand it back: namespace, uid, generation."""
    copy = resource.model_copy(deep=True)
    copy.metadata.namespace = copy.metadata.namespace or "default"
    copy.metadata.uid = f"uid-{copy.metadata.name}"
    copy.metadata.generation = 1
    return copy


def cluster_urls(graph: InferenceGraph) -> dict[str, str]:
    """What InferenceService status.address.url would say for each service a graph names."""
    namespace = graph.metadata.namespace or "default"
    return {
        n: f"http://{names.cluster_host(names.component(n, names.PREDICTOR), namespace)}"
        for n in service_names(graph)
    }


def render_sample(path: Path, config: OperatorConfig = CONFIG) -> list[Obj]:
    """Every child the operator renders for a sample file."""
    objects: list[Obj] = []
    for resource in load_resources(path):
        resource = stored(resource)  # type: ignore[arg-type]
        if isinstance(resource, InferenceService):
            model = resource.spec.predictor.model
            runtime = select_runtime(model, runtimes()) if model is not None else None
            objects += render_inference_service(resource, runtime, config)
        elif isinstance(resource, InferenceGraph):
            resolved = resolve_graph(resource, cluster_urls(resource))
            objects += render_inference_graph(resource, resolved, config)
    return objects
