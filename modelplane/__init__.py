"""modelplane: model serving on Kubernetes (operator, V2 model server, graph router)."""

__version__ = "0.1.0"
