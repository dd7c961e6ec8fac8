"""The /metrics endpoint as a tiny ASGI app over ServerMetrics' exposition."""

from __future__ import annotations

from modelplane.model_server.metrics import ServerMetrics
from modelplane.model_server.rest.app import ASGIApp, Receive, Scope, Send


def metrics_app(metrics: ServerMetrics) -> ASGIApp:
    """GET /metrics: Prometheus text format (summed over workers when there are several)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            body, status, content_type = b'{"error":"method not allowed"}', 405, "application/json"
        else:
            body, content_type = metrics.exposition()
            status = 200
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app
