"""The REST edge as an ASGI app: inference on a raw route, every other V2 endpoint on FastAPI."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson

from modelplane.edge import asgi
from modelplane.edge.asgi import ASGIApp, Headers, Message, Receive, Scope, Send, header
from modelplane.edge.encoding import choose_encoding, encode_body
from modelplane.edge.errors import ClientDisconnected
from modelplane.edge.v2 import HEADER_LENGTH_BYTES, JSON, OCTET_STREAM
from modelplane.model_server.dataplane import DataPlane
from modelplane.model_server.errors import ModelServerError
from modelplane.model_server.metrics import Metered
from modelplane.model_server.rest.api import create_api
from modelplane.model_server.rest.binary import encode_infer_response, parse_infer_body
from modelplane.model_server.rest.reading import read_body
from modelplane.model_server.rest.routes import Route, match

log = logging.getLogger(__name__)

_JSON = (b"content-type", JSON)
_BINARY = (b"content-type", OCTET_STREAM)
Answer = tuple[int, bytes, Headers]


class RestApp:
    """ASGI callable; `extra_routes` maps exact paths (e.g. /metrics) to other ASGI apps.

    Paths are matched once (`routes.match`, which also answers unknown paths and wrong
    methods); inference is handled here, the rest by the FastAPI app (`api`), which also
    serves the OpenAPI schema and the docs.
    """

    def __init__(
        self,
        dataplane: DataPlane,
        max_request_size: int,
        extra_routes: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self._dp = dataplane
        self._limit = max_request_size
        self._extra = dict(extra_routes or {})
        self._api = create_api(dataplane, max_request_size, dataplane.server_metadata().version)
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
        encoding = (
            choose_encoding(header(scope, b"accept-encoding")) if self.compress_responses else None
        )
        try:
            route = match(scope["method"], scope["path"])
            if route.endpoint != "model_infer":
                await self._to_api(scope, receive, send, encoding)
                return
            status, body, headers = await self._infer(route, scope, receive)
        except ClientDisconnected:
            return
        except ModelServerError as exc:
            status, body, headers = exc.http_status, orjson.dumps({"error": exc.message}), [_JSON]
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            status, body, headers = 500, b'{"error":"internal server error"}', [_JSON]
        if encoding is not None and body:
            body = encode_body(body, encoding)
            headers.append((b"content-encoding", encoding.encode()))
        await asgi.send_response(send, status, body, headers, head=scope["method"] == "HEAD")

    async def _to_api(
        self, scope: Scope, receive: Receive, send: Send, encoding: str | None
    ) -> None:
        """Run the FastAPI app: HEAD as GET without the body, compressed when asked."""
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        if not head and encoding is None:
            await self._api(scope, receive, send)
            return
        start: Message = {}

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body" or message.get("more_body"):
                raise RuntimeError("the API answers in one body message")
            body = message.get("body", b"")
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            if encoding is not None and body:
                body = encode_body(body, encoding)
                headers.append((b"content-encoding", encoding.encode()))
            await asgi.send_response(send, start["status"], body, headers, head=head)

        await self._api(scope, receive, send_wrapped)

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
