"""modelplane.storage."""
