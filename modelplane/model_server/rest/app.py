"""The REST edge as a raw ASGI app: V2 endpoints over the data plane, errors mapped to statuses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from modelplane.edge import asgi
from modelplane.edge.asgi import ASGIApp, Headers, Receive, Scope, Send, header
from modelplane.edge.encoding import choose_encoding, encode_body
from modelplane.edge.errors import BodyRejected, BodyTooLarge, ClientDisconnected
from modelplane.edge.v2 import HEADER_LENGTH_BYTES, JSON, OCTET_STREAM
from modelplane.model_server.dataplane import DataPlane
from modelplane.model_server.errors import InvalidInput, ModelServerError, PayloadTooLarge
from modelplane.model_server.metrics import Metered
from modelplane.model_server.protocol.types import RepositoryIndexRequest
from modelplane.model_server.rest.binary import encode_infer_response, parse_infer_body, parse_json
from modelplane.model_server.rest.routes import Route, match

log = logging.getLogger(__name__)

_JSON = (b"content-type", JSON)
_BINARY = (b"content-type", OCTET_STREAM)
Answer = tuple[int, bytes, Headers]


class RestApp:
    """ASGI callable; `extra_routes` maps exact paths (e.g. /metrics) to other ASGI apps."""

    def __init__(
        self,
        dataplane: DataPlane,
        max_request_size: int,
        extra_routes: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self._dp = dataplane
        self._limit = max_request_size
        self._extra = dict(extra_routes or {})
        # Off by default: many clients send Accept-Encoding: gzip unasked, and proxies that
        # pass bodies through (the router) would forward compressed bytes.
        self.compress_responses = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await asgi.lifespan(receive, send)
            return
        if kind != "http":
            return
        extra = self._extra.get(scope["path"])
        if extra is not None:
            await extra(scope, receive, send)
            return
        try:
            status, body, headers = await self._handle(scope, receive)
        except ClientDisconnected:
            return
        except ModelServerError as exc:
            status, body, headers = exc.http_status, orjson.dumps({"error": exc.message}), [_JSON]
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            status, body, headers = 500, b'{"error":"internal server error"}', [_JSON]
        encoding = (
            choose_encoding(header(scope, b"accept-encoding")) if self.compress_responses else None
        )
        if encoding is not None and body:
            body = encode_body(body, encoding)
            headers.append((b"content-encoding", encoding.encode()))
        await asgi.send_response(send, status, body, headers, head=scope["method"] == "HEAD")

    async def _handle(self, scope: Scope, receive: Receive) -> Answer:
        route = match(scope["method"], scope["path"])
        dp = self._dp
        endpoint = route.endpoint
        if endpoint == "model_infer":
            return await self._infer(route, scope, receive)
        if endpoint == "health_live":
            return _json(200, {"live": dp.live()})
        if endpoint == "health_ready":
            if dp.ready():
                return _json(200, {"ready": True})
            return _json(503, {"ready": False, "reason": dp.not_ready_reason() or "not ready"})
        if endpoint == "server_metadata":
            return _json(200, dp.server_metadata().model_dump())
        if endpoint == "model_stats":
            stats = dp.model_statistics(route.model, route.version)
            return _json(200, stats)
        assert route.model is not None or endpoint == "repository_index"
        if endpoint == "model_config":
            return _json(200, dp.model_config(str(route.model), route.version))
        if endpoint == "model_metadata":
            meta = dp.model_metadata(str(route.model), route.version)
            return _json(200, meta.model_dump(exclude_none=True))
        if endpoint == "model_ready":
            why = dp.model_not_ready_reason(str(route.model), route.version)
            if why is None:
                return _json(200, {"name": route.model, "ready": True})
            return _json(503, {"name": route.model, "ready": False, "reason": why})
        body = await read_body(scope, receive, self._limit)
        if endpoint == "repository_index":
            query = (
                parse_json(RepositoryIndexRequest, body)
                if body.strip()
                else RepositoryIndexRequest()
            )
            items = dp.repository_index(query.ready)
            return _json(200, [item.model_dump(exclude_none=True) for item in items])
        if endpoint == "repository_load":
            try:
                doc = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"load request body: malformed JSON: {exc}") from None
            params = doc.get("parameters") if isinstance(doc, dict) else None
            await dp.load(str(route.model), params if isinstance(params, dict) else None)
        else:
            await dp.unload(str(route.model))
        return _json(200, {})

    async def _infer(self, route: Route, scope: Scope, receive: Receive) -> Answer:
        model = str(route.model)
        with Metered(self._dp.metrics, model, route.version, "rest") as metered:
            body = await read_body(scope, receive, self._limit)
            request = parse_infer_body(body, header(scope, HEADER_LENGTH_BYTES))
            response = await self._dp.infer(model, route.version, request)
            payload, json_length = encode_infer_response(response, request)
            metered.version = response.model_version or metered.version
        if json_length is None:
            return 200, payload, [_JSON]
        return 200, payload, [_BINARY, (HEADER_LENGTH_BYTES, str(json_length).encode())]


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body (edge.asgi.read_body), its refusals as this server's errors."""
    try:
        return await asgi.read_body(scope, receive, limit)
    except BodyTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from None
    except BodyRejected as exc:
        raise InvalidInput(str(exc)) from None


def _json(status: int, doc: Any) -> Answer:
    return status, orjson.dumps(doc), [_JSON]
