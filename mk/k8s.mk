# Test control plane: binaries built from the Go module proxy into $(CACHE)/k8s/<version>/bin.
.PHONY: k8s-bin cluster-up cluster-down
TEST_PREREQS += k8s-bin

k8s-bin:
	bash tools/k8s/build.sh

cluster-up: venv k8s-bin
	@$(PY) -m tests.support.controlplane up

cluster-down: venv
	@$(PY) -m tests.support.controlplane down
