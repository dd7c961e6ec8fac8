"""V2 (Open Inference Protocol) wire types and tensor conversions; no web framework here."""
