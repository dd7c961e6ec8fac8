# modelplane: the two commands are `make run` and `make test`; everything they
# need is installed by the targets below into .venv and ~/.cache/modelplane.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS := server,onnx,torch,router,operator,storage,dev,sample
# What `make run` needs, no more: the bundled sample is ONNX, so no torch (a 6 GB download).
RUN_EXTRAS := server,onnx,router,sample
CACHE ?= $(HOME)/.cache/modelplane
export PYTHONPATH := $(CURDIR)
export MODELPLANE_CACHE := $(CACHE)

.PHONY: help venv test test-fast lint fmt clean
# Parts add to TEST_PREREQS (e.g. k8s-bin) and own their targets in mk/*.mk.
TEST_PREREQS :=
include $(sort $(wildcard mk/*.mk))

help:
	@echo "make run        serve the bundled sample locally (models + graph) and print curl commands"
	@echo "make test       install everything needed and run the whole test suite"
	@echo "make lint       ruff, mypy --strict, import-linter"

venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

# `make run`'s lighter install; a full `make venv` (the test install) already covers it.
$(VENV)/.run-stamp: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if [ ! -f $(VENV)/.stamp ] || [ pyproject.toml -nt $(VENV)/.stamp ]; then \
	  $(PY) -m pip install -q -e ".[$(RUN_EXTRAS)]"; fi
	touch $@

lint: venv
	$(VENV)/bin/ruff check modelplane tests e2e benchmarks tools
	$(VENV)/bin/ruff format --check modelplane tests e2e benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: venv
	$(VENV)/bin/ruff format modelplane tests e2e benchmarks tools
	$(VENV)/bin/ruff check --fix modelplane tests e2e benchmarks tools

test: venv lint $(TEST_PREREQS)
	$(PY) -m pytest -q -ra

test-fast: venv
	$(PY) -m pytest -q -m "not cluster"

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

