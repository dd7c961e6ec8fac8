"""Children of an InferenceGraph: the resolved graph file in a ConfigMap and the router (pure).

Resolution turns every `serviceName` step into a `serviceUrl` from mappings the caller
supplies (the operator reads them from InferenceService status, local mode from its own
processes): the InferenceService's address + V2 infer path for REST, or
``grpc://HOST:PORT/v2/models/NAME`` for gRPC, by the step's protocol, else the graph's, else
`DEFAULT_PROTOCOL`. Only an InferenceService whose entry serves gRPC (no transformer) has a
gRPC target: a default falls back to REST there, an explicit ``grpc`` is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any

from modelplane.api import InferenceGraph
from modelplane.api.inference_graph import DEFAULT_PROTOCOL
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render import pod
from modelplane.operator.render.activation import Activation, scale_to_zero
from modelplane.operator.render.autoscaling import Scaling, hpa
from modelplane.operator.render.meta import Obj, child, namespace_of
from modelplane.operator.render.network import entry_route, service

GRAPH_DIR = "/etc/modelplane/graph"
GRAPH_FILE = "graph.json"


class UnresolvedServicesError(LookupError):
    """Some serviceName steps have no URL yet; `missing` names the InferenceServices."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("InferenceService(s) without an address yet: " + ", ".join(missing))
        self.missing = missing


class NoGrpcTargetError(ValueError):
    """A step asks for gRPC of an InferenceService whose entry does not serve it."""


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
    grpc_targets: Mapping[str, str] | None = None,
    splits: Mapping[str, list[tuple[str, int]]] | None = None,
) -> Obj:
    """The router's graph file: steps carry `serviceUrl` or `nodeName`, never `serviceName`.

    `urls` maps an InferenceService name to its base URL (status.address.url);
    `grpc_targets` maps those that serve gRPC at their entry to ``host:port``. `splits` maps
    an InferenceService whose traffic is split between revisions to (revision base URL,
    percent) pairs: a step naming it calls a Splitter node added for it, whose steps are the
    revisions weighted by their percents (over the step's protocol), so the router honours
    the split with its own Splitter; the file's `failover` lists those Splitters, so a request
    whose revision cannot be reached (its pods gone, before the split is redrawn) goes to
    another revision of the same service.
    """
    missing = [n for n in service_names(graph) if not urls.get(n)]
    if missing:
        raise UnresolvedServicesError(missing)
    splits = splits or {}
    nodes: dict[str, Any] = {}
    # (InferenceService, gRPC) -> the Splitter node added for it
    split_nodes: dict[tuple[str, bool], str] = {}
    for node_name, node in graph.spec.nodes.items():
        steps = []
        for step in node.steps:
            wire = step.to_dict()
            service_name = wire.pop("serviceName", None)
            wire.pop("protocol", None)  # a resolved serviceUrl's scheme says it
            if service_name is None:
                steps.append(wire)
                continue
            explicit = step.protocol or graph.spec.protocol
            target = (grpc_targets or {}).get(service_name)
            grpc = (explicit or DEFAULT_PROTOCOL) == "grpc" and target is not None
            if explicit == "grpc" and not grpc:
                raise NoGrpcTargetError(
                    f"step of node {node_name} asks for gRPC, but InferenceService "
                    f"{service_name} does not serve it at its entry (it has a transformer)"
                )
            if service_name in splits:
                key = (service_name, grpc)
                taken = {*graph.spec.nodes, *split_nodes.values()}
                wire["nodeName"] = split_nodes.setdefault(key, split_node_name(service_name, taken))
                # the call's own settings go to the revision steps that make the call
                call: Obj = {k: wire.pop(k) for k in ("timeout", "retries") if k in wire}
                nodes[wire["nodeName"]] = revision_splitter(
                    service_name, splits[service_name], call, grpc
                )
            elif grpc:
                wire["serviceUrl"] = f"grpc://{target}/v2/models/{service_name}"
            else:
                base = urls[service_name].rstrip("/")
                wire["serviceUrl"] = base + names.infer_path(service_name)
            steps.append(wire)
        nodes[node_name] = {"routerType": node.router_type, "steps": steps}
    document: Obj = {"name": graph.metadata.name, "nodes": nodes}
    if split_nodes:  # revisions of one service are interchangeable: one gone, another answers
        document["failover"] = sorted(split_nodes.values())
    if graph.spec.timeout is not None:
        document["timeout"] = graph.spec.timeout
    if graph.spec.http_edge is not None:  # the router runs REST requests as the graph asks
        document["httpEdge"] = graph.spec.http_edge
    return document


def split_node_name(service: str, taken: Collection[str]) -> str:
    """A node name for an InferenceService's revision Splitter, unused by the graph."""
    base = f"{service}-revisions"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def revision_splitter(
    service: str, targets: list[tuple[str, int]], call: Obj, grpc: bool = False
) -> Obj:
    """A Splitter node over an InferenceService's revisions (base URL, percent): their REST
    infer URLs, or with `grpc` their Services' gRPC port."""

    def url(base: str) -> str:
        if not grpc:
            return base.rstrip("/") + names.infer_path(service)
        host = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return f"grpc://{host}:{names.GRPC_PORT}/v2/models/{service}"

    return {
        "routerType": "Splitter",
        "steps": [
            {"serviceUrl": url(base), "weight": percent, **call} for base, percent in targets
        ],
    }


def graph_file(document: Obj) -> str:
    """The graph file's text: canonical JSON, so that equal graphs hash equal."""
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def render_inference_graph(
    graph: InferenceGraph,
    resolved: Obj,
    config: OperatorConfig,
    activation: Activation | None = None,
) -> list[Obj]:
    """ConfigMap with the resolved graph, router Deployment, Service, HPA and Ingress.

    The pod template carries the graph's hash, so a changed graph rolls the router.
    `activation` is the live state of a router with minReplicas 0 (at zero, parked or
    bridging; its relay port): its Service is marked for the idle clock and the activator,
    and at zero sent to the activator.
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
                    "--grpc-port",
                    str(names.GRPC_PORT),
                ],
                "ports": pod.default_ports(),
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
    scaling = Scaling(
        spec.min_replicas, spec.max_replicas, spec.scale_metric, spec.scale_target, "router"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    deployment = pod.deployment(
        name,
        child("apps/v1", "Deployment", name, graph, labels),
        labels,
        pod_spec,
        {names.CONFIG_HASH_ANNOTATION: digest},
        scaling.fixed_replicas,
        config.pre_stop_seconds,
    )
    router_service = service(name, graph, labels)
    objects = [config_map, deployment, router_service]
    if spec.scales_to_zero:
        namespace = namespace_of(graph)
        hosts = names.service_hosts(name, namespace)
        if config.ingress_domain:
            hosts.append(names.host(graph_name, namespace, config.ingress_domain))
        objects += scale_to_zero(
            router_service,
            graph,
            labels,
            name,
            hosts,
            spec.idle_seconds,
            activation or Activation(),
            config,
        )
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
