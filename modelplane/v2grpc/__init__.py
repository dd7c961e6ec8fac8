"""The V2 gRPC protocol (`inference.GRPCInferenceService`): the proto, its generated stubs.

Neutral ground: the model server serves it and the router serves and calls it, and neither
imports the other.
"""
