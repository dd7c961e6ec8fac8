# syntax=docker/dockerfile:1
# The InferenceGraph router.
# Build from the repository root: docker build -f docker/router.Dockerfile -t modelplane/router:0.1.0 .
# Without a Docker daemon `make images` builds the same image from this file (tools/images).
FROM debian:bookworm-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# Distribution packages follow the base image's release; pinning them would break every base bump.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY modelplane ./modelplane
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir ".[router]"

FROM debian:bookworm-slim
# Debian's python3 runs the venv; ca-certificates for https (storage pulls, graph steps).
# A passwd entry for the uid: tools that ask for the user's name (getpass) fail without one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --no-log-init --shell /usr/sbin/nologin modelplane
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
# The operator mounts the resolved graph at /etc/modelplane/graph.json.
ENTRYPOINT ["modelplane", "router"]
CMD ["--graph", "/etc/modelplane/graph.json", "--host", "0.0.0.0", "--port", "8080"]
