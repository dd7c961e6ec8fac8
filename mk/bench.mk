# make bench: our model server side by side with KServe, MLServer and PyTriton (not part of make test).
BENCH_DIR ?= $(CACHE)/bench

.PHONY: bench bench-setup
bench-setup: venv
	BENCH_DIR=$(BENCH_DIR) SKLEARN_VERSION=$$($(PY) -c 'import sklearn; print(sklearn.__version__)') \
		bash benchmarks/setup_peers.sh

bench: bench-setup
	$(PY) -m benchmarks.run

# Many models on one overcommitted server: cold (evicted) vs warm p50, printed (not asserted).
.PHONY: bench-pool
bench-pool: venv
	$(PY) -m benchmarks.pool
