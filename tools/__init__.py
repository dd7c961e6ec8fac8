"""Build tooling that is not part of the modelplane package (images, test cluster binaries)."""
