"""What the router serves for its graph and what it refuses, said alike by its two edges
(`app` over REST, `grpc_edge` over gRPC)."""

from __future__ import annotations

NO_STATISTICS = (
    "a graph router keeps no model statistics: its metrics are at /metrics, its models' "
    "statistics on their own servers"
)
NO_REPOSITORY = "a graph router has no model repository: it serves one graph"
# the V2 extensions the router serves for its graph (server metadata, REST and gRPC alike)
EXTENSIONS = ("binary_tensor_data", "model_configuration")


def not_served(name: str, graph: str) -> str:
    """The error of a request for another model than the graph."""
    return f"graph {name!r} is not served here; this is {graph!r}"


def no_versions(graph: str) -> str:
    """The error of a request naming a version: a graph has none."""
    return f"graph {graph!r} has no versions: ask for it without one"
