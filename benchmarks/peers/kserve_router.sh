#!/usr/bin/env bash
# Build KServe's InferenceGraph router, the peer of `make bench-router`, from the Go module
# proxy (the version the wrapper module kserve-router/go.mod requires) into
# ${MODELPLANE_CACHE:-~/.cache/modelplane}/bench/bin, and print the binary's path. Skips the
# build when that version is there. About 2 minutes and 1 GB of modules the first time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
VERSION="$(awk '$1 == "require" && $2 == "github.com/kserve/kserve" {print $3}' "$HERE/kserve-router/go.mod")"
[[ -n "$VERSION" ]] || { echo "kserve-router: no kserve version in go.mod" >&2; exit 1; }
TARGET="$CACHE/bench/bin/kserve-router-$VERSION"
bash "$HERE/go_build.sh" "$HERE/kserve-router" github.com/kserve/kserve/cmd/router "$TARGET"
echo "$TARGET"
