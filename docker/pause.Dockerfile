# syntax=docker/dockerfile:1
# The test node's sandbox image (containerd's "pause"): a static binary that sleeps until
# SIGTERM/SIGINT and reaps the pod's zombies. Build from the repository root:
# docker build -f docker/pause.Dockerfile -t modelplane/pause:3.10 .
FROM debian:bookworm-slim AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY tools/images/pause.c /src/pause.c
RUN gcc -static -O2 -s -o /pause /src/pause.c

FROM scratch
COPY --from=build /pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
