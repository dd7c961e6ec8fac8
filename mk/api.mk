# API part: CRDs generated from the typed models in modelplane/api.
.PHONY: crds crds-check

crds: venv
	$(PY) -m modelplane crds --output-dir crds

crds-check: venv
	$(PY) -m modelplane crds --check crds
