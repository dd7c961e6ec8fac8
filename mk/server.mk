# Model server targets: regenerate the committed gRPC stubs, measure startup.
.PHONY: proto bench-startup
proto: venv
	$(PY) -m modelplane.model_server.grpc.protogen .

bench-startup: venv
	$(PY) benchmarks/startup.py
