# router: benchmark of the InferenceGraph router's own overhead (prints a table, asserts nothing)
.PHONY: bench-router
bench-router: venv
	$(PY) benchmarks/router_overhead.py --requests $(or $(ROUTER_BENCH_REQUESTS),2000)
