"""Generated protobuf/gRPC stubs for inference.GRPCInferenceService (make proto)."""
