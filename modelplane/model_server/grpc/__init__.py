"""The gRPC edge: inference.GRPCInferenceService over the data plane."""
