"""modelplane.model_server."""
