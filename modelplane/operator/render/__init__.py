"""Pure rendering of child objects: custom resource + operator config -> Kubernetes dicts.

Nothing here does I/O or imports a Kubernetes client (an import-linter contract says so);
local mode (`modelplane run`) renders with the same functions.
"""

from modelplane.operator.render.graph import (
    UnresolvedServicesError,
    graph_file,
    render_inference_graph,
    resolve_graph,
    service_names,
)
from modelplane.operator.render.isvc import render_inference_service
from modelplane.operator.render.meta import Obj

__all__ = [
    "Obj",
    "UnresolvedServicesError",
    "graph_file",
    "render_inference_graph",
    "render_inference_service",
    "resolve_graph",
    "service_names",
]
