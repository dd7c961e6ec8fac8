# syntax=docker/dockerfile:1
# The generic V2 model server, CPU only (onnx, pytorch and python backends).
# Build from the repository root: docker build -f docker/model-server.Dockerfile -t modelplane/model-server:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# A CPU-only torch index keeps the image small; empty means the default index.
ARG TORCH_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY modelplane ./modelplane
RUN python -m venv /opt/venv \
 && if [ -n "$TORCH_INDEX_URL" ]; then /opt/venv/bin/pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" "torch>=2.4"; fi \
 && /opt/venv/bin/pip install --no-cache-dir ".[server,onnx,torch,storage]"

FROM ${PYTHON_IMAGE}
# A passwd entry for the uid: tools that ask for the user's name (getpass) fail without one.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin modelplane
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
# The same command the tests run (tests/component/ship): the operator passes the
# model name and directory as arguments; /mnt/models is where storageUri lands.
ENTRYPOINT ["modelplane", "serve"]
CMD ["--model-repository", "/mnt/models", "--host", "0.0.0.0", "--http-port", "8080", "--grpc-port", "8081"]
