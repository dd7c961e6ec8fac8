"""The resolved graph the router executes: typed, validated and with conditions compiled.

The router's input is an InferenceGraph whose steps are already resolved to ``serviceUrl`` or
``nodeName``. Everything that can be wrong with it is reported here, at load, with the place
named (``nodes.root.steps[1] (classify)``), so a request never meets a bad graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from modelplane.api.condition_language import Condition, parse
from modelplane.api.inference_graph import (
    HttpEdge,
    InferenceGraphSpec,
    InferenceRouter,
    InferenceStep,
)
from modelplane.router.errors import GraphError

RouterType = Literal["Sequence", "Switch", "Ensemble", "Splitter"]
Dependency = Literal["Hard", "Soft"]
ROUTER_TYPES: tuple[RouterType, ...] = ("Sequence", "Switch", "Ensemble", "Splitter")
ROOT = "root"
GRPC_SCHEME = "grpc://"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a node: a target (URL or node) plus how it is fed and what a failure means."""

    node: str
    index: int
    name: str | None
    service_url: str | None = None
    node_name: str | None = None
    data: Literal["$request", "$response"] = "$request"
    condition: Condition | None = None
    weight: int | None = None
    dependency: Dependency = "Soft"
    timeout: float | None = None
    retries: int | None = None
    mapping: Mapping[str, str] | None = None
    grpc_target: str | None = None  # host:port of a grpc:// serviceUrl
    model: str | None = None  # the model a grpc:// serviceUrl names
    label: str = field(init=False, compare=False, repr=False)
    """Name used in errors and metrics: ``node/step-name`` (or ``node/index``); read per call."""

    def __post_init__(self) -> None:
        label = f"{self.node}/{self.name if self.name is not None else self.index}"
        object.__setattr__(self, "label", label)

    @property
    def key(self) -> str:
        """Key of this step's entry in an Ensemble response (KServe: name, else index)."""
        return self.name if self.name is not None else str(self.index)


@dataclass(frozen=True, slots=True)
class Node:
    """A routing node: a router type and its steps."""

    name: str
    router_type: RouterType
    steps: tuple[Step, ...]
    failover: bool = False  # a Splitter over one service's revisions: see `failover` in load


@dataclass(frozen=True, slots=True)
class Graph:
    """A whole graph: its name, nodes (``root`` among them) and overall deadline in seconds."""

    name: str
    nodes: Mapping[str, Node] = field(default_factory=dict)
    timeout: float | None = None
    http_edge: HttpEdge | None = None  # how REST requests run, when the graph says

    @property
    def root(self) -> Node:
        """The entry node."""
        return self.nodes[ROOT]


def load_file(path: str | Path) -> Graph:
    """Read a graph from a YAML or JSON file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise GraphError(f"{path}: not valid YAML/JSON: {exc}") from exc
    return load(document)


def load(document: Any) -> Graph:
    """Build a Graph from the resolved file format, or from a whole InferenceGraph object.

    Nodes and steps, the per-step extensions (timeout, retries, mapping) included, are
    validated by the API's own InferenceGraph types (one model of the resource; conditions
    that do not parse included); the router then checks what only it cares about: targets
    resolved to URLs and no cycles.
    """
    if not isinstance(document, Mapping):
        raise GraphError("graph: expected an object with 'name' and 'nodes'")
    if "spec" in document and "nodes" not in document:
        metadata = document.get("metadata") or {}
        spec = document["spec"] or {}
        if not isinstance(metadata, Mapping) or not isinstance(spec, Mapping):
            raise GraphError("graph: an InferenceGraph's 'metadata' and 'spec' must be objects")
        document = {**spec, "name": metadata.get("name")}
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise GraphError("graph: 'name' must be a non-empty string")
    timeout = _positive(document.get("timeout"), "graph: 'timeout'")
    raw_nodes = document.get("nodes")
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        raise GraphError("graph: 'nodes' must be a non-empty object")
    edge = {"httpEdge": document["httpEdge"]} if "httpEdge" in document else {}
    try:
        spec = InferenceGraphSpec.model_validate({"nodes": raw_nodes, **edge})
    except ValidationError as exc:
        raise GraphError(_describe(exc, raw_nodes)) from exc
    nodes = {n: _node(n, router) for n, router in spec.nodes.items()}
    for failover in _failover_nodes(document.get("failover"), nodes):
        nodes[failover] = replace(nodes[failover], failover=True)
    _check_cycles(nodes)
    return Graph(name=name, nodes=nodes, timeout=timeout, http_edge=spec.http_edge)


def _failover_nodes(value: Any, nodes: Mapping[str, Node]) -> list[str]:
    """The graph file's `failover`: names of Splitter nodes whose steps are interchangeable
    (the operator lists the Splitter it makes over an InferenceService's revisions), so a step
    that cannot be reached hands its request to another step of the node."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GraphError("graph: 'failover' must be a list of node names")
    for name in value:
        node = nodes.get(name)
        if node is None:
            raise GraphError(f"graph: failover names {name!r}, which is not a node")
        if node.router_type != "Splitter":
            raise GraphError(
                f"graph: failover node {name!r} is a {node.router_type}, not a Splitter"
            )
    return list(value)


def _describe(exc: ValidationError, raw_nodes: Mapping[str, Any]) -> str:
    """The first validation error as ``nodes.<node>.steps[<i>] (<name>): message``, or
    ``graph: <key>: message`` for the graph's own keys and rules."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if not str(part).startswith("function-")]
    where = "nodes"
    if loc[:1] == ["nodes"] and len(loc) > 1:
        where = f"nodes.{loc[1]}"
        if len(loc) > 3 and loc[2] == "steps":
            where = _where(loc[1], int(loc[3]), _step_name(raw_nodes, loc[1], int(loc[3])))
            loc = loc[4:]
        else:
            loc = loc[2:]
    elif loc[:1] == ["nodes"]:
        loc = []
    else:  # the graph's own keys (httpEdge) and rules
        where, loc = "graph", loc[:1]
    field_path = ".".join(loc)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}{': ' + field_path if field_path else ''}: {message}"


def _step_name(raw_nodes: Mapping[str, Any], node: str, index: int) -> str | None:
    try:
        name = raw_nodes[node]["steps"][index].get("name")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _where(node: str, index: int, name: str | None) -> str:
    return f"nodes.{node}.steps[{index}]" + (f" ({name})" if name else "")


def _node(name: str, router: InferenceRouter) -> Node:
    steps = tuple(_step(name, i, step) for i, step in enumerate(router.steps))
    return Node(name=name, router_type=router.router_type, steps=steps)


def _step(node: str, index: int, spec: InferenceStep) -> Step:
    where = _where(node, index, spec.name)
    if spec.service_name is not None:
        raise GraphError(f"{where}: serviceName must be resolved to serviceUrl before routing")
    condition = parse(spec.condition) if spec.condition else None  # it parses: the API checked
    grpc_target = model = None
    if spec.service_url is not None and spec.service_url.startswith(GRPC_SCHEME):
        grpc_target, _, path = spec.service_url[len(GRPC_SCHEME) :].partition("/")
        model = path.removeprefix("v2/models/")
    return Step(
        node=node,
        index=index,
        name=spec.name,
        service_url=spec.service_url,
        node_name=spec.node_name,
        data=spec.data or "$request",
        condition=condition,
        weight=spec.weight,
        dependency=spec.dependency or "Soft",
        timeout=spec.timeout,
        retries=spec.retries,
        mapping=dict(spec.mapping) if spec.mapping is not None else None,
        grpc_target=grpc_target,
        model=model,
    )


def _positive(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise GraphError(f"{where} must be a positive number of seconds")
    return float(value)


def _check_cycles(nodes: Mapping[str, Node]) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise GraphError(f"graph: nodes form a cycle: {' -> '.join([*path, name])}")
        state[name] = 1
        for step in nodes[name].steps:
            if step.node_name is not None:
                visit(step.node_name, [*path, name])
        state[name] = 2

    for name in nodes:
        visit(name, [])
