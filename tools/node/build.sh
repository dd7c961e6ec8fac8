#!/usr/bin/env bash
# Build the real test node's add-ons from the Go module proxy into
# ${MODELPLANE_CACHE:-~/.cache/modelplane}/node/bin: CoreDNS (cluster DNS), Traefik (Ingress and
# Gateway API), metrics-server (CPU/memory for HPAs), Prometheus and prometheus-adapter (the
# model servers' rps and concurrency for HPAs) and crictl. kubelet and kube-proxy come
# from the control plane's wrapper module (tools/k8s/build.sh). Skips what is there; one build
# at a time per cache (flock); binaries are renamed into place when complete.
# --print-bin-dir prints where they go; --packages installs the node's Debian packages.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
# shellcheck source=versions.env
source "$HERE/versions.env"
wrapped_version() { # wrapper-dir module: the version its go.mod requires
  awk -v m="$2" '$1 == "require" && $2 == m {print $3}' "$HERE/$1/go.mod"
}
TRAEFIK_VERSION="$(wrapped_version traefik github.com/traefik/traefik/v3)"
PROMETHEUS_VERSION="$(wrapped_version prometheus github.com/prometheus/prometheus)"
PROMETHEUS_ADAPTER_VERSION="$(wrapped_version prometheus-adapter sigs.k8s.io/prometheus-adapter)"
BIN="$CACHE/node/bin"
# containerd, runc, CNI plugins, iptables, conntrack: the node; mmdebstrap: the image builder;
# skopeo and umoci: independent readers of the built images (tests).
DEBIAN_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack mmdebstrap skopeo umoci)

case "${1:-}" in
  --print-bin-dir) echo "$BIN"; exit 0 ;;
  --packages)
    missing=()
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && exit 0
    [[ "$(id -u)" == 0 ]] || { echo "node: need root to apt-get install ${missing[*]}" >&2; exit 1; }
    echo "node: apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0 ;;
esac

GATEWAY_API_VERSION="$(awk '$1 == "sigs.k8s.io/gateway-api" {print $2; exit}' "$HERE/traefik/go.mod")"
CRDS="$CACHE/node/gateway-api-$GATEWAY_API_VERSION"

stamp() { echo "$BIN/.$1-$2"; }  # a binary's version stamp: rebuilt when the version changes
need() { [[ ! -x "$BIN/$1" || ! -e "$(stamp "$1" "$2")" ]]; }

if ! need coredns "$COREDNS_VERSION" && ! need traefik "$TRAEFIK_VERSION" \
  && ! need metrics-server "$METRICS_SERVER_VERSION" && ! need crictl "$CRICTL_VERSION" \
  && ! need prometheus "$PROMETHEUS_VERSION" \
  && ! need prometheus-adapter "$PROMETHEUS_ADAPTER_VERSION" \
  && [[ -e "$CRDS/.complete" ]]; then
  exit 0
fi
command -v go >/dev/null || { echo "node: Go is required to build the node add-ons" >&2; exit 1; }

mkdir -p "$BIN"
exec 9>"$BIN/.build.lock"
flock 9
WORK="$(mktemp -d "$BIN/.work.XXXXXX")"
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

install_atomic() { # src name version
  chmod 0755 "$1"
  mv -f "$1" "$BIN/$2"
  rm -f "$BIN/.$2-"*
  touch "$(stamp "$2" "$3")"
}

go_install() { # name package version
  need "$1" "$3" || return 0
  echo "node: building $1 $3" >&2
  mkdir -p "$WORK/gobin"
  GOBIN="$WORK/gobin" go install -trimpath -ldflags "-s -w" "$2@$3"
  install_atomic "$WORK/gobin/$1" "$1" "$3"
}

wrapped_build() { # name wrapper-dir package version note: go build in a wrapper module
  need "$1" "$4" || return 0
  echo "node: building $1 $4 ($5)" >&2
  (cd "$HERE/$2" && go build -trimpath -ldflags "-s -w" -o "$WORK/$1" "$3")
  install_atomic "$WORK/$1" "$1" "$4"
}

go_install crictl sigs.k8s.io/cri-tools/cmd/crictl "$CRICTL_VERSION"
go_install metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server "$METRICS_SERVER_VERSION"
go_install coredns github.com/coredns/coredns "$COREDNS_VERSION"
# The Gateway API CRDs (standard channel) of the version Traefik is built against, from the
# Go module proxy: the node installs them so that Traefik also serves HTTPRoutes.
gateway_crds() {
  [[ -e "$CRDS/.complete" ]] && return 0
  [[ -n "$GATEWAY_API_VERSION" ]] || { echo "node: no gateway-api in traefik/go.mod" >&2; exit 1; }
  local dir
  dir="$(cd "$HERE/traefik" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
    | awk -F'"' '$2 == "Dir" {print $4}')"
  mkdir -p "$CRDS"
  cp "$dir"/config/crd/standard/gateway.networking.k8s.io_*.yaml "$CRDS/"
  chmod 0644 "$CRDS"/*.yaml
  touch "$CRDS/.complete"
}

wrapped_build traefik traefik github.com/traefik/traefik/v3/cmd/traefik "$TRAEFIK_VERSION" \
  "about 5 min, 3 GB of memory"
wrapped_build prometheus prometheus github.com/prometheus/prometheus/cmd/prometheus \
  "$PROMETHEUS_VERSION" "about 6 min"
wrapped_build prometheus-adapter prometheus-adapter sigs.k8s.io/prometheus-adapter/cmd/adapter \
  "$PROMETHEUS_ADAPTER_VERSION" "about 6 min"
gateway_crds
echo "node: ready in $BIN" >&2
