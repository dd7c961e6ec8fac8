#!/usr/bin/env bash
# Build the Rust pass-through of `make bench-router` (lean-proxy-rs/: hyper and tokio from
# crates.io, pinned by its Cargo.lock) into ${MODELPLANE_CACHE:-~/.cache/modelplane}/bench/bin,
# named by a hash of its sources, and print the binary's path. About a minute the first time.
# Needs cargo (on PATH or in ~/.cargo/bin); one build at a time per target (flock).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lean-proxy-rs"
CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
HASH="$(cat "$HERE/Cargo.toml" "$HERE/Cargo.lock" "$HERE/src/main.rs" | sha256sum | cut -c1-12)"
TARGET="$CACHE/bench/bin/lean-proxy-rs-$HASH"
if [[ ! -x "$TARGET" ]]; then
  CARGO="$(command -v cargo || echo "$HOME/.cargo/bin/cargo")"
  [[ -x "$CARGO" ]] || { echo "lean-proxy-rs: cargo is required to build it" >&2; exit 1; }
  mkdir -p "$(dirname "$TARGET")"
  exec 9>"$TARGET.lock"
  flock 9
  if [[ ! -x "$TARGET" ]]; then
    echo "building lean-proxy-rs (about a minute the first time)" >&2
    (cd "$HERE" && CARGO_TARGET_DIR="$CACHE/bench/rust-target" \
      "$CARGO" build --release --locked --quiet --jobs "${CARGO_BUILD_P:-2}")
    cp "$CACHE/bench/rust-target/release/lean-proxy-rs" "$TARGET.partial"
    mv -f "$TARGET.partial" "$TARGET"
  fi
fi
echo "$TARGET"
