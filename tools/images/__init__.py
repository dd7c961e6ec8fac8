"""Container images without a Docker daemon, from docker/*.Dockerfile (see docs/images.md)."""
