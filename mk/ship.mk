# Shipping: chart sync, local mode (`make run`), end-to-end tier (`make e2e`), images.
.PHONY: run e2e images
RUN_DIR ?= out/run

# Serve the bundled sample (two ONNX models, alone and as a graph) on 127.0.0.1 and print curl
# commands; Ctrl-C stops everything. Installs only what the run path needs (RUN_EXTRAS).
run: $(VENV)/.run-stamp
	$(PY) -m modelplane.local.sample $(RUN_DIR)
	$(PY) -m modelplane run -f $(RUN_DIR)/sample.yaml

# End-to-end tier: every sample applied to the test control plane and run in local mode.
# Also part of `make test` (pytest's testpaths include e2e/).
e2e: venv $(TEST_PREREQS)
	$(PY) -m pytest -q -ra e2e

# Build the images (not part of `make test`): with `docker build` when a Docker daemon answers,
# otherwise without one (tools/images: root, mmdebstrap, chroot; docker archives in
# $(CACHE)/images, see docs/images.md). `make images IMAGES="router pause"` builds a subset.
IMAGES ?= model-server model-server-cuda operator router pause
images: venv
	@if docker info >/dev/null 2>&1; then \
	  for image in $(IMAGES); do \
	    docker build -f docker/$$image.Dockerfile -t "$$($(PY) -m tools.images ref $$image)" . || exit 1; \
	  done; \
	else \
	  bash tools/node/build.sh --packages && $(PY) -m tools.images build $(IMAGES); \
	fi
