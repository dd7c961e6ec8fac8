# syntax=docker/dockerfile:1
# The generic V2 model server for NVIDIA GPUs: onnxruntime-gpu (CUDA execution provider) and torch with CUDA.
# Build from the repository root: docker build -f docker/model-server-cuda.Dockerfile -t modelplane/model-server-cuda:0.1.0 .
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS build
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
 && /opt/venv/bin/pip install --no-cache-dir ".[server,onnx-gpu,torch,storage]"

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin modelplane
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["modelplane", "serve"]
CMD ["--model-repository", "/mnt/models", "--host", "0.0.0.0", "--http-port", "8080", "--grpc-port", "8081"]
