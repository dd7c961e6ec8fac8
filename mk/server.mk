# Model server targets: regenerate the committed gRPC stubs, measure startup.
.PHONY: proto bench-startup
proto: venv
	$(PY) -m modelplane.v2grpc.protogen .

bench-startup: venv
	$(PY) benchmarks/startup.py
