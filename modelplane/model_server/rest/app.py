"""The REST edge: whole requests from the lean HTTP server (`handle`), inference on a raw
route, every other V2 endpoint on FastAPI (through `asgi.serve_whole`); an ASGI `__call__`
answers the same for embedding and tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson

from modelplane.edge import asgi
from modelplane.edge.asgi import ASGIApp, Receive, Scope, Send
from modelplane.edge.encoding import choose_encoding, encode_body
from modelplane.edge.errors import ClientDisconnected
from modelplane.edge.h1server import Request, Response
from modelplane.edge.h1wire import Headers, header_value
from modelplane.edge.v2 import HEADER_LENGTH_BYTES, JSON, OCTET_STREAM
from modelplane.model_server.dataplane import DataPlane
from modelplane.model_server.errors import ModelServerError
from modelplane.model_server.metrics import Metered
from modelplane.model_server.rest.api import create_api
from modelplane.model_server.rest.binary import (
    encode_infer_response,
    output_forms,
    parse_infer_body,
)
from modelplane.model_server.rest.reading import decoded, read_body
from modelplane.model_server.rest.routes import Route, match

log = logging.getLogger(__name__)

_JSON = (b"content-type", JSON)
_BINARY = (b"content-type", OCTET_STREAM)
Answer = tuple[int, bytes, Headers]


class RestApp:
    """The REST app; `extra_routes` maps exact paths (e.g. /metrics) to other ASGI apps.

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

    async def handle(self, request: Request) -> Response:
        """Answer one whole request (the server's edge, `modelplane.edge.h1server`)."""
        extra = self._extra.get(request.path)
        if extra is not None:
            return await asgi.serve_whole(extra, request)
        encoding = None
        if self.compress_responses:
            encoding = choose_encoding(header_value(request.headers, b"accept-encoding"))
        try:
            route = match(request.method, request.path)
            if route.endpoint != "model_infer":
                return await self._to_api(request, encoding)
            status, body, headers = await self._infer(route, request)
        except ModelServerError as exc:
            status, body = exc.http_status, orjson.dumps({"error": exc.message})
            headers = [_JSON, *exc.headers]
        except Exception:
            log.exception("unhandled error", extra={"path": request.path})
            status, body, headers = 500, b'{"error":"internal server error"}', [_JSON]
        return _encoded(status, headers, body, encoding)

    def refused(self, status: int, message: str) -> bytes:
        """The body of a request the edge refused before it reached `handle` (413, 431...)."""
        return orjson.dumps({"error": message})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI, for embedding and for tests over httpx's ASGI transport: the same answers."""
        kind = scope["type"]
        if kind == "lifespan":
            await asgi.lifespan(receive, send)
            return
        if kind != "http":
            return
        try:  # read as sent: handle undoes a content coding, as it does for the lean edge
            body = await read_body(scope, receive, self._limit, decode=False)
        except ClientDisconnected:
            return
        except ModelServerError as exc:
            status, headers = exc.http_status, [_JSON, *exc.headers]
            answer = orjson.dumps({"error": exc.message})
        else:
            query = scope.get("query_string", b"")
            request = Request(scope["method"], scope["path"], query, scope["headers"], body)
            status, headers, answer = await self.handle(request)
        await asgi.send_response(send, status, answer, list(headers), scope["method"] == "HEAD")

    async def _to_api(self, request: Request, encoding: str | None) -> Response:
        """Run the FastAPI app: HEAD as GET (the edge sends no body), compressed when asked."""
        if request.method == "HEAD":
            request = Request("GET", request.path, request.query, request.headers, request.body)
        status, headers, body = await asgi.serve_whole(self._api, request)
        return _encoded(status, list(headers), body, encoding)

    async def _infer(self, route: Route, request: Request) -> Answer:
        model = str(route.model)
        with Metered(self._dp.metrics, model, route.version, "rest") as metered:
            body = decoded(
                request.body, header_value(request.headers, b"content-encoding"), self._limit
            )
            infer = parse_infer_body(body, header_value(request.headers, HEADER_LENGTH_BYTES))
            forms = output_forms(infer)  # checked before the model runs
            response = await self._dp.infer(model, route.version, infer)
            payload, json_length = encode_infer_response(response, forms)
            metered.version = response.model_version or metered.version
        if json_length is None:
            return 200, payload, [_JSON]
        return 200, payload, [_BINARY, (HEADER_LENGTH_BYTES, str(json_length).encode())]


def _encoded(status: int, headers: Headers, body: bytes, encoding: str | None) -> Response:
    if encoding is not None and body:
        body = encode_body(body, encoding)
        headers.append((b"content-encoding", encoding.encode()))
    return status, headers, body
