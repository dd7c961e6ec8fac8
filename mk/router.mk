# router: benchmark of the InferenceGraph router's own overhead (prints a table, asserts nothing)
.PHONY: bench-router
bench-router: venv
	$(PY) -m benchmarks.router_overhead --requests $(or $(ROUTER_BENCH_REQUESTS),2000)
