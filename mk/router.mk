# router: benchmark of the InferenceGraph router's own overhead, beside KServe's router built
# from the Go module proxy (prints a table, asserts nothing)
.PHONY: bench-router
bench-router: venv
	KSERVE_ROUTER="$$(bash benchmarks/peers/kserve_router.sh)" && \
	$(PY) -m benchmarks.router_overhead --requests $(or $(ROUTER_BENCH_REQUESTS),2000) \
		--kserve-router "$$KSERVE_ROUTER"
