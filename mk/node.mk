# The real test node (real-pod tier): Debian packages and add-ons built from the Go module
# proxy into $(CACHE)/node/bin, and the images its pods run. `make cluster-up REAL=1` starts it.
.PHONY: node-bin tier-images
TEST_PREREQS += node-bin tier-images

node-bin:
	@if [ "$$(id -u)" = 0 ]; then bash tools/node/build.sh --packages; \
	else echo "node-bin: not root, the real-pod tier will skip (needs root)" >&2; fi
	bash tools/node/build.sh

# The images the tier's pods run (the CUDA image is built by `make images` only).
tier-images: venv
	@if [ "$$(id -u)" = 0 ]; then $(PY) -m tools.images build pause operator model-server router; \
	else echo "tier-images: not root, the real-pod tier will skip (needs root)" >&2; fi

# Bounded load through the Ingress while pods roll, die and autoscale (prints, asserts no times).
.PHONY: soak
soak: venv k8s-bin node-bin tier-images
	$(PY) -m benchmarks.soak

# Scale to zero and wake on request on the real node (prints the wake times, asserts none).
.PHONY: bench-scale
bench-scale: venv k8s-bin node-bin tier-images
	$(PY) -m benchmarks.scale
