"""Children of an InferenceGraph: the resolved graph file in a ConfigMap and the router (pure).

Resolution turns every `serviceName` step into a `serviceUrl` (the InferenceService's
address + V2 infer path) from a name -> base URL mapping the caller supplies: the
operator reads it from InferenceService status, local mode from its own processes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from modelplane.api import InferenceGraph
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render import pod
from modelplane.operator.render.autoscaling import Scaling, hpa
from modelplane.operator.render.meta import Obj, child
from modelplane.operator.render.network import entry_route, service

GRAPH_DIR = "/etc/modelplane/graph"
GRAPH_FILE = "graph.json"


class UnresolvedServicesError(LookupError):
    """Some serviceName steps have no URL yet; `missing` names the InferenceServices."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("InferenceService(s) without an address yet: " + ", ".join(missing))
        self.missing = missing


def service_names(graph: InferenceGraph) -> list[str]:
    """InferenceServices the graph's steps name (sorted, unique)."""
    return sorted(
        {
            step.service_name
            for node in graph.spec.nodes.values()
            for step in node.steps
            if step.service_name is not None
        }
    )


def resolve_graph(
    graph: InferenceGraph,
    urls: Mapping[str, str],
    splits: Mapping[str, list[tuple[str, int]]] | None = None,
) -> Obj:
    """The router's graph file: steps carry `serviceUrl` or `nodeName`, never `serviceName`.

    `urls` maps an InferenceService name to its base URL (status.address.url). `splits` maps
    an InferenceService whose traffic is split between revisions to (revision base URL,
    percent) pairs: a step naming it calls a Splitter node added for it, whose steps are the
    revisions weighted by their percents, so the router honours the split with its own
    Splitter.
    """
    missing = [n for n in service_names(graph) if not urls.get(n)]
    if missing:
        raise UnresolvedServicesError(missing)
    splits = splits or {}
    nodes: dict[str, Any] = {}
    split_nodes: dict[str, str] = {}  # InferenceService -> the Splitter node added for it
    for node_name, node in graph.spec.nodes.items():
        steps = []
        for step in node.steps:
            wire = step.to_dict()
            service_name = wire.pop("serviceName", None)
            if service_name is not None and service_name in splits:
                wire["nodeName"] = split_nodes.setdefault(
                    service_name, split_node_name(service_name, graph.spec.nodes, split_nodes)
                )
                # the call's own settings go to the revision steps that make the call
                call: Obj = {k: wire.pop(k) for k in ("timeout", "retries") if k in wire}
                nodes[wire["nodeName"]] = revision_splitter(
                    service_name, splits[service_name], call
                )
            elif service_name is not None:
                base = urls[service_name].rstrip("/")
                wire["serviceUrl"] = base + names.infer_path(service_name)
            steps.append(wire)
        nodes[node_name] = {"routerType": node.router_type, "steps": steps}
    document: Obj = {"name": graph.metadata.name, "nodes": nodes}
    if graph.spec.timeout is not None:
        document["timeout"] = graph.spec.timeout
    return document


def split_node_name(service: str, taken: Mapping[str, Any], added: Mapping[str, str]) -> str:
    """A node name for an InferenceService's revision Splitter, unused by the graph."""
    base = f"{service}-revisions"
    candidate, n = base, 1
    while candidate in taken or candidate in added.values():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def revision_splitter(service: str, targets: list[tuple[str, int]], call: Obj) -> Obj:
    """A Splitter node over an InferenceService's revisions (base URL, percent)."""
    return {
        "routerType": "Splitter",
        "steps": [
            {"serviceUrl": url.rstrip("/") + names.infer_path(service), "weight": percent, **call}
            for url, percent in targets
        ],
    }


def graph_file(document: Obj) -> str:
    """The graph file's text: canonical JSON, so that equal graphs hash equal."""
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def render_inference_graph(
    graph: InferenceGraph, resolved: Obj, config: OperatorConfig
) -> list[Obj]:
    """ConfigMap with the resolved graph, router Deployment, Service, HPA and Ingress.

    The pod template carries the graph's hash, so a changed graph rolls the router.
    """
    graph_name = graph.metadata.name or ""
    name = names.router(graph_name)
    labels = names.router_labels(graph_name)
    text = graph_file(resolved)
    config_map = child("v1", "ConfigMap", names.graph_config(graph_name), graph, labels)
    config_map["data"] = {GRAPH_FILE: text}

    spec = graph.spec
    container = pod.restricted(
        pod.drop_empty(
            {
                "name": "router",
                "image": config.router_image,
                "imagePullPolicy": config.image_pull_policy,
                "command": [
                    "modelplane",
                    "router",
                    "--graph",
                    f"{GRAPH_DIR}/{GRAPH_FILE}",
                    "--host",
                    "0.0.0.0",
                    "--port",
                    str(names.HTTP_PORT),
                ],
                "ports": pod.default_ports()[:1],
                "resources": pod.merge_resources(
                    config.router_resources, spec.resources.to_dict() if spec.resources else None
                ),
                "volumeMounts": [{"name": "graph", "mountPath": GRAPH_DIR, "readOnly": True}],
                "readinessProbe": pod.http_probe("/v2/health/ready", 2, 3),
                "livenessProbe": pod.http_probe("/v2/health/live", 10, 3),
            }
        )
    )
    pod_spec = pod.drop_empty(
        {
            "containers": [container],
            "volumes": [{"name": "graph", "configMap": {"name": names.graph_config(graph_name)}}],
            "nodeSelector": spec.node_selector,
            "tolerations": [t.to_dict() for t in spec.tolerations or []],
            "affinity": spec.affinity,
            "enableServiceLinks": False,
        }
    )
    scaling = Scaling(spec.min_replicas, spec.max_replicas, spec.scale_metric, spec.scale_target)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    deployment = pod.deployment(
        name,
        child("apps/v1", "Deployment", name, graph, labels),
        labels,
        pod_spec,
        {names.CONFIG_HASH_ANNOTATION: digest},
        None if scaling.autoscaled else scaling.low,
        config.pre_stop_seconds,
    )
    objects = [config_map, deployment, service(name, graph, labels, grpc=False)]
    autoscaler = hpa(name, graph, labels, scaling, config)
    if autoscaler is not None:
        objects.append(autoscaler)
    route = entry_route(
        graph,
        {names.MANAGED_BY: names.MANAGED_BY_VALUE, names.GRAPH_LABEL: graph_name},
        name,
        [(name, 100)],
        config,
    )
    if route is not None:
        objects.append(route)
    return objects
