"""modelplane.local."""
