# syntax=docker/dockerfile:1
# The generic V2 model server for NVIDIA GPUs: onnxruntime-gpu (CUDA execution provider) and torch with CUDA.
# The CUDA libraries come from pip wheels (nvidia-*); the driver comes from the node (NVIDIA container toolkit).
# Build from the repository root: docker build -f docker/model-server-cuda.Dockerfile -t modelplane/model-server-cuda:0.1.0 .
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
# onnxruntime-gpu's cuda and cudnn extras: its CUDA provider also links libcurand, which torch's
# wheels do not bring.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir ".[server,onnx-gpu,torch,storage]" \
      "onnxruntime-gpu[cuda,cudnn]>=1.19"

FROM debian:bookworm-slim
# Debian's python3 runs the venv; ca-certificates for https (storage pulls, graph steps).
# A passwd entry for the uid: tools that ask for the user's name (getpass) fail without one.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --no-log-init --shell /usr/sbin/nologin modelplane
COPY --from=build /opt/venv /opt/venv
# The NVIDIA container toolkit mounts the node's driver (libcuda) for these capabilities;
# onnxruntime's CUDA provider has no rpath to the wheels' libraries, so the loader is told.
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib:/opt/venv/lib/python3.11/site-packages/nvidia/cudnn/lib
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
# The same command the tests run (tests/component/ship): the operator passes the
# model name and directory as arguments; /mnt/models is where storageUri lands.
ENTRYPOINT ["modelplane", "serve"]
CMD ["--model-repository", "/mnt/models", "--host", "0.0.0.0", "--http-port", "8080", "--grpc-port", "8081"]
