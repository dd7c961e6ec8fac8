# Model server targets: regenerate the committed gRPC stubs, measure startup, install perf_analyzer.
.PHONY: proto bench-startup
proto: venv
	$(PY) -m modelplane.v2grpc.protogen .

bench-startup: venv
	$(PY) benchmarks/startup.py

# Triton's perf_analyzer (from a tritonclient wheel, libraries from PyPI and Debian) into the cache.
.PHONY: perf-analyzer
TEST_PREREQS += perf-analyzer
perf-analyzer: venv
	PY=$(PY) bash tools/perf_analyzer/install.sh
