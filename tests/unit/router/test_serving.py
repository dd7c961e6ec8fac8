"""Which HTTP edge a graph's REST requests run on (`serving.edge_threads`, pure)."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.router.errors import GraphError
from modelplane.router.graph import Graph, load
from modelplane.router.serving import edge_threads


def graph(*urls: str, nested: str | None = None) -> Graph:
    nodes: dict[str, Any] = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"name": f"s{i}", "serviceUrl": u} for i, u in enumerate(urls)],
        }
    }
    if nested is not None:
        nodes["root"]["steps"].append({"name": "inner", "nodeName": "more"})
        nodes["more"] = {"routerType": "Ensemble", "steps": [{"name": "n", "serviceUrl": nested}]}
    return load({"name": "g", "nodes": nodes})


REST = "http://m/v2/models/m/infer"
GRPC = "grpc://m:8081/v2/models/m"


def test_loop_is_the_loop_for_any_graph() -> None:
    assert edge_threads("loop", graph(REST)) is False
    assert edge_threads("loop", graph(REST, GRPC)) is False


def test_threads_run_a_rest_graph_and_a_graph_with_a_grpc_step_in_any_node_is_refused() -> None:
    assert edge_threads("threads", graph(REST, REST)) is True
    with pytest.raises(GraphError, match=r"root/s1 call gRPC"):
        edge_threads("threads", graph(REST, GRPC))
    with pytest.raises(GraphError, match=r"more/n call gRPC"):
        edge_threads("threads", graph(REST, nested=GRPC))
