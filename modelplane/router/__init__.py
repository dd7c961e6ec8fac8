"""modelplane.router."""
