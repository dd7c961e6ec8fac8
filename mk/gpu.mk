# The GPU check (docs/benchmarks.md, "GPU"): wheels for the GPU machine, which has no network,
# and the CPU dry run of the check. Not part of make test (its test is tests/component/benchmarks).
.PHONY: gpu-wheels gpu-wheels-ort gpu-check-cpu
gpu-wheels: venv
	PYTHON=$(PY) bash benchmarks/gpu_wheels.sh

gpu-wheels-ort: venv
	PYTHON=$(PY) bash benchmarks/gpu_wheels.sh --ort

gpu-check-cpu: venv
	PYTHON=$(PY) OUT=$(CURDIR)/out/gpu-check-cpu bash benchmarks/gpu_check.sh --cpu
