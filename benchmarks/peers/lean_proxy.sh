#!/usr/bin/env bash
# Build the Go pass-through of `make bench-router` (lean-proxy/: fasthttp from the Go module
# proxy) into ${MODELPLANE_CACHE:-~/.cache/modelplane}/bench/bin, named by a hash of its
# sources, and print the binary's path. About 20 s the first time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
HASH="$(cat "$HERE"/lean-proxy/go.mod "$HERE"/lean-proxy/go.sum "$HERE"/lean-proxy/main.go | sha256sum | cut -c1-12)"
TARGET="$CACHE/bench/bin/lean-proxy-$HASH"
bash "$HERE/go_build.sh" "$HERE/lean-proxy" . "$TARGET"
echo "$TARGET"
