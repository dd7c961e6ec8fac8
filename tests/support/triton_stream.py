"""Requests sent on one gRPC stream with tritonclient's stream API, as a user sends them."""

from __future__ import annotations

import queue
from typing import Any


def on_one_stream(target: str, requests: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
    """Send `requests` (`async_stream_infer` keyword arguments) on one stream to the gRPC
    server at `target`; the (result, error) pairs of the answers, in the order they came."""
    import tritonclient.grpc as tgrpc

    client = tgrpc.InferenceServerClient(target)
    answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        for request in requests:
            client.async_stream_infer(**request)
        return [answers.get(timeout=30) for _ in requests]
    finally:
        client.stop_stream()
        client.close()
