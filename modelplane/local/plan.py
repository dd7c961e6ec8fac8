"""Pure planning of local mode: custom resources -> the processes that serve them on 127.0.0.1.

Each InferenceService and InferenceGraph is rendered by the operator's own render functions;
the containers of the rendered Deployments become local processes: `modelplane ...` runs as
`python -m modelplane ...`, ports move to free 127.0.0.1 ports, and paths inside the container
(the model directory, mounted claims, user-mapped paths) move to local directories.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelplane.api import (
    AnyResource,
    ClusterServingRuntime,
    InferenceGraph,
    InferenceService,
    NoRuntimeError,
    ServingRuntime,
    select_runtime,
)
from modelplane.local.argv import has_flag, map_path, map_paths, set_flag
from modelplane.local.processes import HOST, Process, Setup
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.graph import (
    GRAPH_FILE,
    NoGrpcTargetError,
    UnresolvedServicesError,
    render_inference_graph,
    resolve_graph,
)
from modelplane.operator.render.isvc import render_inference_service

Obj = dict[str, Any]


class PlanError(ValueError):
    """The resources cannot run locally; the message says which one and why."""


@dataclass(frozen=True)
class Endpoint:
    """What a user calls: an InferenceService or InferenceGraph and its local URL."""

    kind: str
    name: str
    url: str
    infer_url: str
    # The InferenceService whose metadata describes what the endpoint takes.
    model: str | None
    model_url: str | None
    grpc: str | None = None  # host:port of its V2 gRPC service


@dataclass
class Plan:
    """Processes in start order (models before routers), endpoints, and files to write."""

    processes: list[Process] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Layout:
    """Where things go on this machine."""

    python: str
    workdir: str
    # PersistentVolumeClaim name -> local directory standing in for it.
    claims: Mapping[str, str] = field(default_factory=dict)
    # Path inside a container -> local path (e.g. /opt/transformer -> ./transformer).
    paths: Mapping[str, str] = field(default_factory=dict)


def split(
    resources: Sequence[AnyResource],
) -> tuple[list[InferenceService], list[InferenceGraph], list[ServingRuntime]]:
    """InferenceServices, InferenceGraphs and runtimes (namespaced and cluster) of a list."""
    services = [r for r in resources if isinstance(r, InferenceService)]
    graphs = [r for r in resources if isinstance(r, InferenceGraph)]
    runtimes = [r for r in resources if isinstance(r, ServingRuntime | ClusterServingRuntime)]
    return services, graphs, runtimes


def build_plan(
    resources: Sequence[AnyResource],
    default_runtimes: Sequence[ServingRuntime],
    config: OperatorConfig,
    ports: Iterator[int],
    layout: Layout,
) -> Plan:
    """The processes, endpoints and files that serve the resources locally."""
    services, graphs, runtimes = split(resources)
    if not services and not graphs:
        raise PlanError("no InferenceService or InferenceGraph in the files given")
    given = {r.metadata.name for r in runtimes}
    runtimes += [r for r in default_runtimes if r.metadata.name not in given]
    plan = Plan()
    local_urls: dict[str, str] = {}
    grpc_targets: dict[str, str] = {}
    for isvc in services:
        name = isvc.metadata.name or ""
        local_urls[name] = _plan_service(isvc, runtimes, config, ports, layout, plan)
        if isvc.spec.transformer is None:  # as in a cluster: only a predictor entry is gRPC
            grpc = plan.endpoints[-1].grpc
            if grpc is not None:
                grpc_targets[name] = grpc
    for graph in graphs:
        _plan_graph(graph, local_urls, grpc_targets, config, ports, layout, plan)
    return plan


def _plan_service(
    isvc: InferenceService,
    runtimes: Sequence[ServingRuntime],
    config: OperatorConfig,
    ports: Iterator[int],
    layout: Layout,
    plan: Plan,
) -> str:
    """Add the processes of one InferenceService; return its local base URL."""
    name = isvc.metadata.name or ""
    runtime = None
    if isvc.spec.predictor.model is not None:
        try:
            runtime = select_runtime(isvc.spec.predictor.model, runtimes)
        except NoRuntimeError as exc:
            hint = "" if runtimes else " (no runtimes loaded: pass --runtimes DIR or -f a runtime)"
            raise PlanError(f"InferenceService {name}: {exc}{hint}") from exc
        if runtime.spec.multi_model:
            raise PlanError(
                f"InferenceService {name}: runtime {runtime.metadata.name} is a multi-model pool "
                "(multiModel: true), which local mode does not run: it starts one server per "
                "model; select a single-model runtime (e.g. modelplane-onnx) to run it here"
            )
    children = render_inference_service(isvc, runtime, config)
    deployments = {
        o["metadata"]["labels"][names.COMPONENT_LABEL]: o
        for o in children
        if o["kind"] == "Deployment"
    }
    # Local mode runs one revision: its process is named after the component.
    revision = deployments[names.PREDICTOR]
    component_name = names.component(name, names.PREDICTOR)
    predictor = {**revision, "metadata": {**revision["metadata"], "name": component_name}}
    http, grpc = next(ports), next(ports)
    plan.processes.append(
        _server_process(predictor, http, grpc, {}, layout, f"{name}/predictor", plan)
    )
    entry = f"http://{HOST}:{http}"
    entry_grpc = f"{HOST}:{grpc}"
    transformer = deployments.get(names.TRANSFORMER)
    if transformer is not None:
        cluster_host = names.cluster_host(names.component(name, names.PREDICTOR), _ns(isvc))
        hosts = {f"http://{cluster_host}": entry, cluster_host: f"{HOST}:{http}"}
        t_http, t_grpc = next(ports), next(ports)
        plan.processes.append(
            _server_process(transformer, t_http, t_grpc, hosts, layout, f"{name}/transformer", plan)
        )
        entry = f"http://{HOST}:{t_http}"
        entry_grpc = f"{HOST}:{t_grpc}"
    plan.endpoints.append(
        Endpoint(
            "InferenceService", name, entry, entry + names.infer_path(name), name, entry, entry_grpc
        )
    )
    return entry


def _plan_graph(
    graph: InferenceGraph,
    local_urls: Mapping[str, str],
    grpc_targets: Mapping[str, str],
    config: OperatorConfig,
    ports: Iterator[int],
    layout: Layout,
    plan: Plan,
) -> None:
    """Add the router of one InferenceGraph, its steps resolved to the local processes."""
    name = graph.metadata.name or ""
    try:
        resolved = resolve_graph(graph, local_urls, grpc_targets)
    except UnresolvedServicesError as exc:
        raise PlanError(f"InferenceGraph {name}: {exc}; pass their YAML with -f as well") from exc
    except NoGrpcTargetError as exc:
        raise PlanError(f"InferenceGraph {name}: {exc}") from exc
    children = render_inference_graph(graph, resolved, config)
    config_map = next(o for o in children if o["kind"] == "ConfigMap")
    deployment = next(o for o in children if o["kind"] == "Deployment")
    graph_path = f"{layout.workdir.rstrip('/')}/graphs/{name}.json"
    plan.files[graph_path] = config_map["data"][GRAPH_FILE]
    container = _first_container(deployment, f"{name}/router")
    port, grpc_port = next(ports), next(ports)
    argv = _local_command(container, f"{name}/router", layout)
    argv = set_flag(set_flag(argv, "--host", HOST), "--port", str(port))
    argv = set_flag(argv, "--grpc-port", str(grpc_port))
    argv = set_flag(argv, "--graph", graph_path)
    plan.processes.append(
        Process(deployment["metadata"]["name"], tuple(argv), _env(container, {}, plan), port)
    )
    url = f"http://{HOST}:{port}"
    first = _first_service(graph)
    plan.endpoints.append(
        Endpoint(
            "InferenceGraph",
            name,
            url,
            url + names.infer_path(name),
            first,
            local_urls.get(first) if first else None,
            f"{HOST}:{grpc_port}",
        )
    )


def _first_service(graph: InferenceGraph) -> str | None:
    """The InferenceService the graph's request reaches first (for an example request)."""
    node = graph.spec.nodes.get("root")
    seen: set[str] = set()
    while node is not None and node.steps:
        step = node.steps[0]
        if step.service_name:
            return step.service_name
        if not step.node_name or step.node_name in seen:
            return None
        seen.add(step.node_name)
        node = graph.spec.nodes.get(step.node_name)
    return None


def _ns(isvc: InferenceService) -> str:
    return isvc.metadata.namespace or "default"


def _first_container(deployment: Obj, what: str) -> Obj:
    pod = deployment["spec"]["template"]["spec"]
    containers: list[Obj] = pod["containers"]
    if len(containers) != 1:
        raise PlanError(f"{what}: local mode runs one container per pod, not {len(containers)}")
    return containers[0]


def _server_process(
    deployment: Obj,
    http: int,
    grpc: int,
    hosts: Mapping[str, str],
    layout: Layout,
    what: str,
    plan: Plan,
) -> Process:
    """A model server or transformer process from its rendered Deployment."""
    pod = deployment["spec"]["template"]["spec"]
    container = _first_container(deployment, what)
    mounts, setup = _mounts(pod, container, layout, deployment["metadata"]["name"], what, plan)
    argv = map_paths(_local_command(container, what, layout), mounts)
    argv = set_flag(argv, "--host", HOST)
    argv = set_flag(argv, "--http-port", str(http))
    argv = set_flag(argv, "--grpc-port", str(grpc))
    if has_flag(argv, "--metrics-port"):
        argv = set_flag(argv, "--metrics-port", str(http))
    if has_flag(argv, "--exit-on-load-failure"):  # a pod's /dev/termination-log, in the workdir
        why = f"{layout.workdir.rstrip('/')}/{deployment['metadata']['name']}.termination-log"
        argv = set_flag(argv, "--termination-message-path", why)
    env = {k: map_path(v, mounts) for k, v in _env(container, hosts, plan).items()}
    return Process(deployment["metadata"]["name"], tuple(argv), env, http, setup)


def _local_command(container: Obj, what: str, layout: Layout) -> list[str]:
    """The container's command line with `modelplane` run by this Python."""
    command = [*container.get("command", []), *container.get("args", [])]
    if not command or command[0] != "modelplane":
        raise PlanError(
            f"{what}: local mode runs `modelplane ...` containers only; "
            f"this one runs {command[:1] or 'its image entrypoint'} in image {container.get('image')}"
        )
    return [layout.python, "-m", "modelplane", *command[1:]]


def _mounts(
    pod: Obj, container: Obj, layout: Layout, name: str, what: str, plan: Plan
) -> tuple[dict[str, str], tuple[Setup, ...]]:
    """Container path -> local path for the container's volumes, plus model downloads to run."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts: dict[str, str] = dict(layout.paths)
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        claim = volume.get("persistentVolumeClaim", {}).get("claimName")
        if claim is not None:
            if claim not in layout.claims:
                raise PlanError(
                    f"{what}: reads PersistentVolumeClaim {claim!r}; "
                    f"pass --pvc {claim}=DIR to stand in for it"
                )
            local = layout.claims[claim].rstrip("/")
            sub = mount.get("subPath")
            mounts[mount["mountPath"]] = f"{local}/{sub}" if sub else local
        elif "emptyDir" in volume:
            mounts[mount["mountPath"]] = (
                f"{layout.workdir.rstrip('/')}/volumes/{name}/{mount['name']}"
            )
    setup: list[Setup] = []
    for init in pod.get("initContainers", []):
        argv = map_paths(_local_command(init, f"{what} init container", layout), mounts)
        setup.append(Setup(tuple(argv), _env(init, {}, plan)))
    return mounts, tuple(setup)


def _env(container: Obj, hosts: Mapping[str, str], plan: Plan) -> dict[str, str]:
    """Plain env values, cluster addresses replaced by local ones; references are skipped."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" not in item:
            plan.warnings.append(
                f"{container.get('name')}: env {item['name']} comes from a reference; not set locally"
            )
            continue
        value = str(item["value"])
        for cluster, local in sorted(hosts.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(cluster, local)
        env[item["name"]] = value
    return env
