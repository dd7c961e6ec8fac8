#!/usr/bin/env bash
# Build a Go peer of the benchmarks once per cache: go_build.sh MODULE_DIR PACKAGE TARGET.
# Builds PACKAGE in the module at MODULE_DIR (its modules from the Go module proxy) into the
# path TARGET unless it is there already; one build at a time per target (flock).
set -euo pipefail

DIR="$1" PACKAGE="$2" TARGET="$3"
if [[ ! -x "$TARGET" ]]; then
  command -v go >/dev/null || { echo "$(basename "$TARGET"): Go is required to build it" >&2; exit 1; }
  mkdir -p "$(dirname "$TARGET")"
  exec 9>"$TARGET.lock"
  flock 9
  if [[ ! -x "$TARGET" ]]; then
    echo "building $(basename "$TARGET") from $DIR" >&2
    (cd "$DIR" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false} -p=${GO_BUILD_P:-2}" \
      go build -trimpath -ldflags "-s -w" -o "$TARGET.partial" "$PACKAGE")
    mv -f "$TARGET.partial" "$TARGET"
  fi
fi
