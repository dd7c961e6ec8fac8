# syntax=docker/dockerfile:1
# The InferenceGraph router. Build from the repository root:
# docker build -f docker/router.Dockerfile -t modelplane/router:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY modelplane ./modelplane
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir ".[router]"

FROM ${PYTHON_IMAGE}
# A passwd entry for the uid: tools that ask for the user's name (getpass) fail without one.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin modelplane
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
# The operator mounts the resolved graph at /etc/modelplane/graph.json.
ENTRYPOINT ["modelplane", "router"]
CMD ["--graph", "/etc/modelplane/graph.json", "--host", "0.0.0.0", "--port", "8080"]
