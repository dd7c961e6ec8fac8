"""The /metrics endpoint as a tiny ASGI app over ServerMetrics' exposition."""

from __future__ import annotations

from modelplane.edge.asgi import ASGIApp, Receive, Scope, Send, send_response
from modelplane.edge.v2 import JSON
from modelplane.model_server.metrics import ServerMetrics


def metrics_app(metrics: ServerMetrics) -> ASGIApp:
    """GET /metrics: Prometheus text format (summed over workers when there are several)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            body, status, content_type = b'{"error":"method not allowed"}', 405, JSON
        else:
            text, media_type = metrics.exposition()
            body, status, content_type = text, 200, media_type.encode()
        headers = [(b"content-type", content_type)]
        await send_response(send, status, body, headers, head=scope["method"] == "HEAD")

    return app
