# router: benchmark of the InferenceGraph router's own overhead, beside KServe's router built
# from the Go module proxy, and pass-throughs that do no graph work: a Go one on fasthttp
# (built from the Go module proxy), a Rust one on hyper (built from crates.io where cargo is
# installed), nginx and socat (from Debian, installed when root) as the machine's floors for
# a hop, and Ensembles with no graph (Python, and Rust on hyper) as the floors for an
# Ensemble (prints a table, asserts nothing)
.PHONY: bench-router
bench-router: venv
	command -v socat >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq socat >/dev/null; } \
		|| echo "bench-router: no socat (not root): its row is left out"
	PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null \
		|| { [ "$$(id -u)" = 0 ] && apt-get install -y -qq nginx >/dev/null; } \
		|| echo "bench-router: no nginx (not root): its row is left out"
	KSERVE_ROUTER="$$(bash benchmarks/peers/kserve_router.sh)" && \
	LEAN_PROXY="$$(bash benchmarks/peers/lean_proxy.sh)" && \
	LEAN_PROXY_RS="$$(bash benchmarks/peers/lean_proxy_rs.sh || true)" && \
	$(PY) -m benchmarks.router_overhead --requests $(or $(ROUTER_BENCH_REQUESTS),2000) \
		--kserve-router "$$KSERVE_ROUTER" --lean-proxy "$$LEAN_PROXY" \
		$${LEAN_PROXY_RS:+--lean-proxy-rs "$$LEAN_PROXY_RS"}
