# Operator targets: run it against $KUBECONFIG, time it against the test control plane.
.PHONY: operator bench-operator

operator: venv
	$(PY) -m modelplane operator --log-format plain

bench-operator: venv
	$(PY) -m benchmarks.operator_latency
