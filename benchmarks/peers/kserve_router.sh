#!/usr/bin/env bash
# Build KServe's InferenceGraph router, the peer of `make bench-router`, from the Go module
# proxy (the version the wrapper module kserve-router/go.mod requires) into
# ${MODELPLANE_CACHE:-~/.cache/modelplane}/bench/bin, and print the binary's path. Skips the
# build when that version is there; one build at a time per cache (flock). About 2 minutes
# and 1 GB of modules the first time.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
BIN="$CACHE/bench/bin"
VERSION="$(awk '$1 == "require" && $2 == "github.com/kserve/kserve" {print $3}' "$HERE/kserve-router/go.mod")"
[[ -n "$VERSION" ]] || { echo "kserve-router: no kserve version in go.mod" >&2; exit 1; }
TARGET="$BIN/kserve-router-$VERSION"

if [[ ! -x "$TARGET" ]]; then
  command -v go >/dev/null || { echo "kserve-router: Go is required to build the peer" >&2; exit 1; }
  mkdir -p "$BIN"
  exec 9>"$BIN/.kserve-router.lock"
  flock 9
  if [[ ! -x "$TARGET" ]]; then
    echo "kserve-router: building KServe's router $VERSION (about 2 min)" >&2
    (cd "$HERE/kserve-router" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false} -p=${GO_BUILD_P:-2}" \
      go build -trimpath -ldflags "-s -w" -o "$TARGET.partial" github.com/kserve/kserve/cmd/router)
    mv -f "$TARGET.partial" "$TARGET"
  fi
fi
echo "$TARGET"
