"""The router's HTTP app: whole requests in, answers out, over one Executor and one pooled
transport.

Routes: ``POST /`` and ``POST /v2/models/{graph}/infer`` run the graph; ``GET /healthz``,
``/readyz``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2``, ``/v2/models/{graph}``,
``/v2/models/{graph}/ready`` and ``/metrics``. `handle` serves `modelplane.edge.h1server`
(the router's own server: no ASGI on the hot path); the ASGI ``__call__`` answers the same
for embedding and tests. Request bytes go upstream untouched unless a decision needs to look
inside them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import orjson

from modelplane import __version__
from modelplane.edge import asgi
from modelplane.edge.asgi import Receive, Scope, Send
from modelplane.edge.encoding import ACCEPT_ENCODING, decode_body
from modelplane.edge.errors import BodyRejected, BodyTooLarge, ClientDisconnected
from modelplane.edge.h1server import Request, Response
from modelplane.edge.v2 import HEADER_LENGTH_BYTES, JSON
from modelplane.router.answer import grpc_answer, output_forms, rest_answer
from modelplane.router.blocking import drive
from modelplane.router.describe import Describer
from modelplane.router.ensemble import EnsembleAnswer
from modelplane.router.errors import (
    MalformedV2,
    NotV2,
    RouterError,
    Undescribed,
    error_document,
)
from modelplane.router.executor import Executor
from modelplane.router.forms import ALL_JSON
from modelplane.router.graph import Graph
from modelplane.router.grpc_block import BlockingGrpcTransport
from modelplane.router.grpc_transport import GrpcTransport
from modelplane.router.h1 import H1Transport
from modelplane.router.h1block import BlockingH1Transport
from modelplane.router.headers import REQUEST_ID, SOFT_FAILURES, HeaderPolicy
from modelplane.router.metrics import CONTENT_TYPE, RouterMetrics
from modelplane.router.payload import Payload
from modelplane.router.result import StepResult, failure
from modelplane.router.served import (
    EXTENSIONS,
    NO_REPOSITORY,
    NO_STATISTICS,
    no_versions,
    not_served,
)
from modelplane.router.settings import RouterSettings
from modelplane.router.signature import Signature, config_document, metadata_document
from modelplane.router.transport import Transport
from modelplane.router.upstream import RetryPolicy

SOFT_FAILURES_BYTES = SOFT_FAILURES.encode()
UNWRITTEN = "the graph's answer cannot be written as asked"


log = logging.getLogger("modelplane.router")


class RouterApp:
    """ASGI application serving one graph."""

    def __init__(
        self,
        graph: Graph,
        settings: RouterSettings | None = None,
        *,
        transport: Transport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.graph = graph
        self.settings = settings if settings is not None else RouterSettings()
        self.metrics = RouterMetrics(graph)
        self.header_policy = HeaderPolicy(self.settings.propagate_headers)
        self._rng = rng
        self._own_transport = transport is None
        self._executor: Executor | None = None
        self._grpc = GrpcTransport()  # the loop's gRPC channels (steps and the graph's signature)
        self._threaded: Executor | None = None  # REST requests on their own threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._describer: Describer | None = None  # over the executor's transports
        self.ready = False
        if transport is not None:
            self._start(transport)
        model = f"/v2/models/{graph.name}"
        self._infer_paths = {"/": False, f"{model}/infer": True}
        self._get_routes: dict[str, Callable[[], tuple[int, bytes, bytes]]] = {
            "/metrics": self._metrics,
            "/healthz": self._live,
            "/v2/health/live": self._live,
            "/readyz": self._ready,
            "/v2/health/ready": self._ready,
            f"{model}/ready": self._ready,
            "/v2": self._server_metadata,
        }
        # the graph as one V2 model, read from its steps' models (`describe`)
        self._described: dict[str, Callable[[str, Signature], dict[str, Any]]] = {
            model: metadata_document,
            f"{model}/config": config_document,
        }

    def _start(self, transport: Transport) -> None:
        s = self.settings
        self._executor = Executor(
            self.graph,
            transport,
            self.metrics,
            rng=self._rng,
            step_timeout=s.step_timeout,
            request_timeout=s.request_timeout,
            policy=RetryPolicy(s.retries, s.retry_backoff),
            grpc_transport=self._grpc,
        )
        self.ready = True

    async def startup(self) -> None:
        """Open the pooled transport (unless one was injected); must run inside the loop."""
        if self._executor is None:
            s = self.settings
            self._start(H1Transport(s.upstream_connections, s.connect_timeout))

    def start_threads(self) -> None:
        """Run REST inference requests on the threads of `modelplane.edge.h1threads` (through
        `handle_blocking`), over blocking transports (REST and gRPC steps), without the event
        loop; everything else stays on the loop this is called on."""
        assert self._executor is not None, "startup first"
        s = self.settings
        self._loop = asyncio.get_running_loop()
        transport = BlockingH1Transport(s.upstream_connections, s.connect_timeout)
        self._threaded = self._executor.on_threads(transport, BlockingGrpcTransport())

    def handle_blocking(self, request: Request) -> Response:
        """Answer one whole HTTP request on the calling thread (`h1threads`' handler): the
        graph runs here; any other route is answered on the loop, as `handle` answers it."""
        if request.method == "POST" and self._threaded is not None:
            v2 = self._infer_paths.get(request.path)
            if v2 is not None:
                return drive(self._infer(request, v2, self._threaded))
        assert self._loop is not None, "start_threads first"
        return asyncio.run_coroutine_threadsafe(self.handle(request), self._loop).result()

    async def shutdown(self) -> None:
        """Stop answering ready and close the transports this app opened."""
        self.ready = False
        if self._threaded is not None:
            await self._threaded.transport.aclose()
            await self._threaded.grpc.aclose()
        await self._grpc.aclose()
        if self._executor is not None and self._own_transport:
            await self._executor.transport.aclose()

    async def handle(self, request: Request) -> Response:
        """Answer one whole HTTP request (the router's edge, `modelplane.edge.h1server`)."""
        path, method = request.path, request.method
        if method == "POST":
            v2 = self._infer_paths.get(path)
            if v2 is not None:
                return await self._infer(request, v2)
        elif method in ("GET", "HEAD"):
            route = self._get_routes.get(path)
            if route is not None:
                status, body, content_type = route()
                return status, [(b"content-type", content_type)], body
            document = self._described.get(path)
            if document is not None:
                return await self._describe(document)
        if path.startswith(("/v2/models/", "/v2/repository")):
            refused = self._not_here(path)
            if refused is not None:
                return _error(*refused)
        if path in self._get_routes or path in self._infer_paths or path in self._described:
            return _error(405, f"method {method} not allowed on {path}", "")
        return _error(404, f"no route {method} {path}", "")

    def _not_here(self, path: str) -> tuple[int, str, str] | None:
        """Why a V2 model path this graph does not serve is refused (status, error, cause), the
        same reasons its gRPC edge gives; None for a path that is the graph's own."""
        parts = path.split("/")
        if parts[2] == "repository":
            return 501, NO_REPOSITORY, self.graph.name
        name = parts[3] if len(parts) > 3 else ""
        if name != self.graph.name:
            return 404, not_served(name, self.graph.name), "unknown model"
        if len(parts) > 5 and parts[4] == "versions":
            return 404, no_versions(name), f"call /v2/models/{name}/infer"
        if parts[4:] == ["stats"]:
            return 501, NO_STATISTICS, self.graph.name
        return None

    def refused(self, status: int, message: str) -> bytes:
        """A request the edge refused before routing (413, 431, 400...): counted among the
        answered requests, its body in the router's error format."""
        self.metrics.request_done(status, 0.0)
        error = BodyTooLarge.summary if status == 413 else HTTPStatus(status).phrase.lower()
        return _error(status, error, message)[2]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI, for embedding and for tests over httpx's ASGI transport: the same answers."""
        if scope["type"] == "lifespan":
            await asgi.lifespan(receive, send, self.startup, self.shutdown)
            return
        if scope["type"] != "http":
            return
        limit = self.settings.max_request_size
        try:  # read as sent: handle undoes a content coding, as it does for the lean edge
            body = await asgi.read_body(scope, receive, limit, decode=False)
        except ClientDisconnected:
            return
        except BodyRejected as exc:
            status, headers, answer = _error(exc.status, exc.summary, str(exc))
            self.metrics.request_done(status, 0.0)
        else:
            query = scope.get("query_string", b"")
            request = Request(scope["method"], scope["path"], query, scope["headers"], body)
            status, headers, answer = await self.handle(request)
        await asgi.send_response(send, status, answer, list(headers), scope["method"] == "HEAD")

    async def _infer(
        self, request: Request, v2: bool, executor: Executor | None = None
    ) -> Response:
        start = time.perf_counter()
        status = 500
        metrics = self.metrics
        metrics.in_flight.inc()
        try:
            if self._executor is None:
                await self.startup()
            assert self._executor is not None
            headers = self.header_policy.forward(request.headers)
            try:
                payload = _request_payload(request, self.settings.max_request_size)
            except BodyRejected as exc:
                result = failure(exc.status, exc.summary, str(exc), None)
            else:
                result = await self._run(payload, headers, executor)
                try:
                    self._shape(result, payload, v2)
                except RouterError as exc:  # an answer the client's form cannot carry
                    unwritten = failure(exc.status, UNWRITTEN, str(exc), None)
                    unwritten.soft_failures = result.soft_failures
                    result = unwritten
            status = result.status
            answer = result.payload
            out = [
                (b"content-type", answer.content_type),
                (b"x-request-id", headers[REQUEST_ID].encode("latin-1")),
            ]
            if answer.header_length is not None:
                out.append((HEADER_LENGTH_BYTES, str(answer.header_length).encode()))
            if result.soft_failures:
                out.append((SOFT_FAILURES_BYTES, ",".join(result.soft_failures).encode()))
            if status == 415:  # a content-encoding it does not take: say which it does
                out.append(ACCEPT_ENCODING)
            return status, out, answer.body
        finally:
            metrics.in_flight.dec()
            metrics.request_done(status, time.perf_counter() - start)

    def _shape(self, result: StepResult, request: Payload, v2: bool) -> None:
        """Give a REST answer its final form: renamed for the graph, an Ensemble's map as one
        V2 response on the V2 route, in the client's form (binary only when it asked), and
        written (so a tensor JSON cannot carry raises here, as a RouterError)."""
        if result.ok:
            answer = result.payload
            if v2 and isinstance(answer, EnsembleAnswer):  # merged into one V2 response
                answer = answer.response(lambda: output_forms(request)) or answer
            # the client's forms matter only when the answer is not plain JSON
            raw = answer.message is not None or answer.header_length is not None
            forms = output_forms(request) if raw else ALL_JSON
            result.payload = rest_answer(answer, self.graph.name, result.ran, forms)
            result.payload.body  # noqa: B018  # written now, inside the caller's try

    async def infer_message(
        self, message: Any, metadata: Iterable[tuple[str, str | bytes]]
    ) -> tuple[int, Any, str, list[str]]:
        """Run the graph on a gRPC ModelInferRequest: (status, response or None, error details,
        the Soft steps that failed).

        The details of a failure are the router's error document as JSON.
        """
        start = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()
        try:
            if self._executor is None:
                await self.startup()
            raw = [
                (k.encode("latin-1"), v if isinstance(v, bytes) else v.encode("latin-1"))
                for k, v in metadata
            ]
            headers = self.header_policy.forward(raw)
            result = await self._run(Payload.of_message(message), headers)
            status, soft = result.status, result.soft_failures
            if result.ok:
                try:  # an Ensemble's answer is its members' merged (EnsembleAnswer.v2)
                    answer = grpc_answer(result.payload, self.graph.name, result.ran)
                    return status, answer, "", soft
                except NotV2 as exc:
                    status = exc.status
                    return (
                        status,
                        None,
                        orjson.dumps(
                            error_document(str(exc), "answer this graph over REST", None)
                        ).decode(),
                        soft,
                    )
            return status, None, result.payload.body.decode("utf-8", "replace"), soft
        finally:
            self.metrics.in_flight.dec()
            self.metrics.request_done(status, time.perf_counter() - start)

    async def _run(
        self, payload: Payload, headers: dict[str, str], executor: Executor | None = None
    ) -> StepResult:
        executor = executor if executor is not None else self._executor
        assert executor is not None
        try:
            timeout = payload.asked_timeout()
        except ValueError as exc:
            return failure(400, "bad request parameter", str(exc), None)
        try:
            result = await executor.run(payload, headers, timeout)
        except MalformedV2 as exc:  # the request, read where outputs are asked of a node
            result = failure(exc.status, "malformed V2 request", str(exc), None)
        except RouterError as exc:  # an answer the client's form cannot carry (an Ensemble's)
            result = failure(exc.status, UNWRITTEN, str(exc), None)
        except Exception as exc:  # a bug must still answer in the one error format
            log.exception("graph %s failed", self.graph.name)
            result = failure(500, "router error", f"{type(exc).__name__}: {exc}", None)
        return result

    def _metrics(self) -> tuple[int, bytes, bytes]:
        return 200, self.metrics.render(), CONTENT_TYPE.encode()

    def _live(self) -> tuple[int, bytes, bytes]:
        return 200, b'{"live":true}', JSON

    def _ready(self) -> tuple[int, bytes, bytes]:
        if self.ready:
            return 200, b'{"ready":true}', JSON
        return 503, b'{"ready":false}', JSON

    def _server_metadata(self) -> tuple[int, bytes, bytes]:
        doc = {"name": "modelplane-router", "version": __version__, "extensions": EXTENSIONS}
        return 200, orjson.dumps(doc), JSON

    async def signature(self) -> Signature:
        """The graph's signature as one V2 model (Undescribed when a step's model cannot be
        read)."""
        if self._executor is None:
            await self.startup()
        assert self._executor is not None
        if self._describer is None:
            self._describer = Describer(self.graph, self._executor.transport, self._grpc)
        return await self._describer.signature()

    async def _describe(self, document: Callable[[str, Signature], dict[str, Any]]) -> Response:
        try:
            signature = await self.signature()
        except Undescribed as exc:
            return _error(exc.status, f"cannot describe graph {self.graph.name!r}", str(exc))
        return 200, [(b"content-type", JSON)], orjson.dumps(document(self.graph.name, signature))


def _request_payload(request: Request, limit: int) -> Payload:
    """The client's body; a V2 binary-extension body keeps its content type and header length.

    A gzip or deflate body is inflated (under the size limit; BodyRejected when it cannot
    be). Any other body is sent upstream as JSON, whatever the client called it (``curl -d``).
    """
    content_type, length, encoding = JSON, None, None
    for name, value in request.headers:  # lower case, as the edge and ASGI give them
        if name == b"content-type":
            content_type = value
        elif name == HEADER_LENGTH_BYTES and value.isdigit():
            length = int(value)
        elif name == b"content-encoding":
            encoding = value.decode("latin-1")
    body = request.body if encoding is None else decode_body(request.body, encoding, limit)
    if length is None:
        return Payload(body)
    return Payload(body, content_type=content_type, header_length=length)


def _error(status: int, error: str, cause: str) -> Response:
    return status, [(b"content-type", JSON)], orjson.dumps(error_document(error, cause, None))
