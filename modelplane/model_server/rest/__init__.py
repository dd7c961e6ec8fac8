"""The REST edge: a raw ASGI app over the data plane (V2 paths, binary tensor extension)."""
