"""The resolved graph the router executes: typed, validated and with conditions compiled.

The router's input is an InferenceGraph whose steps are already resolved to ``serviceUrl`` or
``nodeName``. Everything that can be wrong with it is reported here, at load, with the place
named (``nodes.root.steps[1] (classify)``), so a request never meets a bad graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from modelplane.router.condition import Condition, ConditionError, parse

RouterType = Literal["Sequence", "Switch", "Ensemble", "Splitter"]
Dependency = Literal["Hard", "Soft"]
ROUTER_TYPES: tuple[RouterType, ...] = ("Sequence", "Switch", "Ensemble", "Splitter")
ROOT = "root"


class GraphError(ValueError):
    """The graph file is not a runnable graph; the message names the node and step."""


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

    @property
    def label(self) -> str:
        """Name used in errors and metrics: ``node/step-name`` (or ``node/index``)."""
        return f"{self.node}/{self.name if self.name is not None else self.index}"

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


@dataclass(frozen=True, slots=True)
class Graph:
    """A whole graph: its name, nodes (``root`` among them) and overall deadline in seconds."""

    name: str
    nodes: Mapping[str, Node] = field(default_factory=dict)
    timeout: float | None = None

    @property
    def root(self) -> Node:
        """The entry node."""
        return self.nodes[ROOT]


def load_file(path: str | Path) -> Graph:
    """Read a graph from a YAML or JSON file."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise GraphError(f"{path}: not valid YAML/JSON: {exc}") from exc
    return load(document)


def load(document: Any) -> Graph:
    """Build a Graph from the resolved file format, or from a whole InferenceGraph object."""
    if not isinstance(document, Mapping):
        raise GraphError("graph: expected an object with 'name' and 'nodes'")
    if "spec" in document and "nodes" not in document:
        metadata = document.get("metadata") or {}
        spec = document["spec"] or {}
        document = {**spec, "name": metadata.get("name")}
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise GraphError("graph: 'name' must be a non-empty string")
    timeout = _positive(document.get("timeout"), "graph: 'timeout'")
    raw_nodes = document.get("nodes")
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        raise GraphError("graph: 'nodes' must be a non-empty object")
    if ROOT not in raw_nodes:
        raise GraphError("graph: a node named 'root' is required")
    nodes = {str(n): _node(str(n), raw) for n, raw in raw_nodes.items()}
    _check_references(nodes)
    return Graph(name=name, nodes=nodes, timeout=timeout)


def _node(name: str, raw: Any) -> Node:
    where = f"nodes.{name}"
    if not isinstance(raw, Mapping):
        raise GraphError(f"{where}: expected an object")
    router_type = raw.get("routerType")
    if router_type not in ROUTER_TYPES:
        raise GraphError(f"{where}: routerType must be one of {', '.join(ROUTER_TYPES)}")
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise GraphError(f"{where}: 'steps' must be a non-empty list")
    steps = tuple(_step(name, i, s) for i, s in enumerate(raw_steps))
    names = [s.name for s in steps if s.name is not None]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GraphError(f"{where}: step names must be unique, repeated: {', '.join(duplicates)}")
    if router_type == "Splitter":
        total = sum(s.weight or 0 for s in steps)
        if any(s.weight is None for s in steps) or total != 100:
            raise GraphError(f"{where}: every Splitter step needs a weight; weights sum to 100")
    return Node(name=name, router_type=router_type, steps=steps)


def _step(node: str, index: int, raw: Any) -> Step:
    where = f"nodes.{node}.steps[{index}]"
    if not isinstance(raw, Mapping):
        raise GraphError(f"{where}: expected an object")
    name = raw.get("name", raw.get("stepName"))
    if name is not None:
        if not isinstance(name, str) or not name:
            raise GraphError(f"{where}: 'name' must be a non-empty string")
        where = f"{where} ({name})"
    if raw.get("serviceName"):
        raise GraphError(f"{where}: serviceName must be resolved to serviceUrl before routing")
    url, target = raw.get("serviceUrl"), raw.get("nodeName")
    if (url is None) == (target is None):
        raise GraphError(f"{where}: exactly one of serviceUrl or nodeName is required")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise GraphError(f"{where}: serviceUrl must be an http(s) URL")
    data = raw.get("data", "$request")
    if data not in ("$request", "$response"):
        raise GraphError(f"{where}: data must be $request or $response")
    condition = None
    if raw.get("condition") not in (None, ""):
        try:
            condition = parse(str(raw["condition"]))
        except ConditionError as exc:
            raise GraphError(f"{where}: invalid condition {raw['condition']!r}: {exc}") from exc
    weight = raw.get("weight")
    if weight is not None and (not isinstance(weight, int) or weight < 0):
        raise GraphError(f"{where}: weight must be a non-negative integer")
    dependency = raw.get("dependency", "Soft")
    if dependency not in ("Hard", "Soft"):
        raise GraphError(f"{where}: dependency must be Hard or Soft")
    retries = raw.get("retries")
    if retries is not None and (not isinstance(retries, int) or retries < 0):
        raise GraphError(f"{where}: retries must be a non-negative integer")
    mapping = raw.get("mapping")
    if mapping is not None and (
        not isinstance(mapping, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
    ):
        raise GraphError(f"{where}: mapping must map output names to input names")
    return Step(
        node=node,
        index=index,
        name=name,
        service_url=url,
        node_name=target,
        data=data,
        condition=condition,
        weight=weight,
        dependency=dependency,
        timeout=_positive(raw.get("timeout"), f"{where}: 'timeout'"),
        retries=retries,
        mapping=dict(mapping) if mapping is not None else None,
    )


def _positive(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise GraphError(f"{where} must be a positive number of seconds")
    return float(value)


def _check_references(nodes: Mapping[str, Node]) -> None:
    for node in nodes.values():
        for step in node.steps:
            if step.node_name is not None and step.node_name not in nodes:
                raise GraphError(
                    f"nodes.{node.name}.steps[{step.index}]: nodeName {step.node_name!r} "
                    "is not a node of this graph"
                )
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
