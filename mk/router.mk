# router: benchmark of the InferenceGraph router's own overhead, beside KServe's router built
# from the Go module proxy and a C byte relay (socat, from Debian) as the machine's floor for
# any hop (prints a table, asserts nothing)
.PHONY: bench-router
bench-router: venv
	command -v socat >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq socat >/dev/null; } \
		|| echo "bench-router: no socat (not root): its row is left out"
	KSERVE_ROUTER="$$(bash benchmarks/peers/kserve_router.sh)" && \
	$(PY) -m benchmarks.router_overhead --requests $(or $(ROUTER_BENCH_REQUESTS),2000) \
		--kserve-router "$$KSERVE_ROUTER"
