# Test control plane: binaries built from the Go module proxy into $(CACHE)/k8s/<version>/bin.
.PHONY: k8s-bin cluster-up cluster-down
TEST_PREREQS += k8s-bin

k8s-bin:
	bash tools/k8s/build.sh

# REAL=1: the real-pod cluster (kubelet, containerd, CoreDNS, Traefik, metrics-server,
# Prometheus, prometheus-adapter) instead of the kwok one; it needs root, the node add-ons and
# the tier's images.
ifeq ($(REAL),1)
cluster-up: venv k8s-bin node-bin tier-images
	@$(PY) -m tests.support.realnode up
else
cluster-up: venv k8s-bin
	@$(PY) -m tests.support.controlplane up
endif

# Stops both kinds (whichever runs).
cluster-down: venv
	@$(PY) -m tests.support.controlplane down
	@if [ -e $(CACHE)/node/cluster-up ]; then $(PY) -m tests.support.realnode down; fi
