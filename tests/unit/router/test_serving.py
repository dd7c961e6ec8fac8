"""Which HTTP edge a graph's REST requests run on (`serving.edge_threads`, pure)."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.router.errors import GraphError
from modelplane.router.graph import Graph, load
from modelplane.router.serving import edge_threads


def graph(*urls: str, nested: str | None = None, **extra: Any) -> Graph:
    nodes: dict[str, Any] = {
        "root": {
            "routerType": "Sequence",
            "steps": [{"name": f"s{i}", "serviceUrl": u} for i, u in enumerate(urls)],
        }
    }
    if nested is not None:
        nodes["root"]["steps"].append({"name": "inner", "nodeName": "more"})
        nodes["more"] = {"routerType": "Ensemble", "steps": [{"name": "n", "serviceUrl": nested}]}
    return load({"name": "g", "nodes": nodes, **extra})


REST = "http://m/v2/models/m/infer"
GRPC = "grpc://m:8081/v2/models/m"


def test_loop_is_the_loop_for_any_graph() -> None:
    assert edge_threads("loop", graph(REST)) is False
    assert edge_threads("loop", graph(REST, GRPC)) is False


def test_threads_run_any_graph_grpc_steps_included() -> None:
    assert edge_threads("threads", graph(REST, REST)) is True
    assert edge_threads("threads", graph(REST, GRPC)) is True
    assert edge_threads("threads", graph(REST, nested=GRPC)) is True


def test_the_graph_files_http_edge_is_the_default_and_the_flag_overrides_it() -> None:
    threaded = graph(REST, httpEdge="threads")
    assert threaded.http_edge == "threads"
    assert edge_threads(None, threaded) is True  # no flag: as the graph says
    assert edge_threads("loop", threaded) is False  # --http-edge loop: as the flag says
    assert edge_threads(None, graph(REST)) is False  # neither: the loop
    assert edge_threads(None, graph(REST, httpEdge="loop")) is False


def test_a_graph_file_asking_threads_of_a_grpc_step_loads_and_an_unknown_edge_does_not() -> None:
    assert graph(REST, GRPC, httpEdge="threads").http_edge == "threads"
    with pytest.raises(GraphError, match=r"^graph: httpEdge: Input should be 'loop' or 'threads'"):
        graph(REST, httpEdge="fibers")
    whole = {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "g"},
        "spec": {"httpEdge": "threads", "nodes": {"root": {"routerType": "Sequence", "steps": [
            {"serviceUrl": REST}]}}},
    }  # fmt: skip
    assert load(whole).http_edge == "threads"  # a whole InferenceGraph means the same
