"""The REST API's non-hot endpoints on FastAPI, with its OpenAPI schema and interactive docs.

Health, metadata, readiness, Triton's config and statistics and the repository extension are
served here; inference stays on the raw ASGI route in `app` and enters the schema through
`infer_operation`, built from the same wire types. Request bodies are read by the edge's
reader (size limit, content codings) and validated with our own messages, so an error has
the one format `{"error": ...}` and status however it is reached. Swagger UI's assets are
served from the `swagger-ui-py` package: the docs page loads nothing from elsewhere.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from modelplane.edge.errors import ClientDisconnected
from modelplane.model_server.dataplane import DataPlane
from modelplane.model_server.errors import ModelNotFound, ModelServerError
from modelplane.model_server.protocol import triton_types as triton
from modelplane.model_server.protocol import types as v2
from modelplane.model_server.rest.binary import parse_json
from modelplane.model_server.rest.reading import read_body

OPENAPI_PATH = "/v2/openapi.json"
DOCS_PATH = "/v2/docs"
_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
_REF = "#/components/schemas/{model}"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": v2.ErrorResponse, "description": what}
    for code, what in (
        (400, "invalid request (the message names the field)"),
        (404, "no such model or version"),
        (503, "the model is not ready"),
    )
}
_VERSIONED = ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}")


def create_api(dataplane: DataPlane, max_request_size: int, version: str) -> FastAPI:
    """The FastAPI app over `dataplane`; `version` is the server's, shown in the schema."""
    app = FastAPI(
        title="modelplane model server",
        version=version,
        description="The Open Inference Protocol (V2) over REST, with Triton's model "
        "repository, model configuration and statistics extensions.",
        openapi_url=None,  # served below, with the raw infer route added
        docs_url=None,
        redoc_url=None,
    )
    dp = dataplane

    async def error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelServerError)
        headers = {name.decode(): value.decode() for name, value in exc.headers}
        return JSONResponse({"error": exc.message}, status_code=exc.http_status, headers=headers)

    async def gone(request: Request, exc: Exception) -> Response:
        return Response(status_code=400)  # the client left before its body arrived

    app.add_exception_handler(ModelServerError, error)
    app.add_exception_handler(ClientDisconnected, gone)

    @app.get("/v2/health/live", response_model=v2.HealthLive, tags=["health"])
    async def health_live() -> v2.HealthLive:
        """Whether the server is live."""
        return v2.HealthLive(live=dp.live())

    @app.get(
        "/v2/health/ready",
        response_model=v2.HealthReady,
        responses={503: {"model": v2.HealthReady, "description": "not ready, and why"}},
        tags=["health"],
    )
    async def health_ready() -> Response:
        """Whether every startup model has loaded (503 with the reason when not)."""
        if dp.ready():
            return _answer(200, v2.HealthReady(ready=True))
        reason = dp.not_ready_reason() or "not ready"
        return _answer(503, v2.HealthReady(ready=False, reason=reason))

    @app.get("/v2", response_model=v2.ServerMetadata, tags=["metadata"])
    async def server_metadata() -> v2.ServerMetadata:
        """The server's name, version and protocol extensions."""
        return dp.server_metadata()

    async def model_metadata(model_name: str, model_version: str | None = None) -> Response:
        """A model's versions, platform and input and output tensors."""
        meta = dp.model_metadata(model_name, model_version)
        return _answer(200, meta)

    async def model_ready(model_name: str, model_version: str | None = None) -> Response:
        """Whether a model (version) is ready to infer (503 with the reason when not)."""
        why = dp.model_not_ready_reason(model_name, model_version)
        ready = v2.ModelReady(name=model_name, ready=why is None, reason=why)
        return _answer(200 if why is None else 503, ready)

    async def model_config(model_name: str, model_version: str | None = None) -> Response:
        """Triton's model configuration of a loaded model version."""
        return _answer(200, dp.model_config(model_name, model_version))

    async def model_stats(model_name: str, model_version: str | None = None) -> Response:
        """Triton's statistics of a model (every loaded version, or the one named)."""
        return _answer(200, dp.model_statistics(model_name, model_version))

    @app.get("/v2/models/stats", response_model=triton.StatisticsResponse, tags=["models"])
    async def all_stats() -> Response:
        """Triton's statistics of every loaded model version."""
        return _answer(200, dp.model_statistics(None, None))

    for base in _VERSIONED:
        not_ready: dict[int | str, dict[str, Any]] = {503: {"model": v2.ModelReady}}
        for suffix, handler, model, extra in (
            ("", model_metadata, v2.ModelMetadata, {}),
            ("/ready", model_ready, v2.ModelReady, not_ready),
            ("/config", model_config, triton.ModelConfig, {}),
            ("/stats", model_stats, triton.StatisticsResponse, {}),
        ):
            app.add_api_route(
                base + suffix,
                handler,
                methods=["GET"],
                response_model=model,
                responses={**_ERRORS, **extra},
                tags=["models"],
                operation_id=f"{handler.__name__}{'_version' if 'versions' in base else ''}",
            )

    @app.post(
        "/v2/repository/index",
        response_model=list[v2.RepositoryIndexItem],
        responses=_ERRORS,
        openapi_extra=_body(v2.RepositoryIndexRequest, required=False),
        tags=["repository"],
    )
    async def repository_index(request: Request) -> Response:
        """Every model in the repository with its state (`ready: true`: only ready ones)."""
        body = await read_body(request.scope, request.receive, max_request_size)
        query = (
            parse_json(v2.RepositoryIndexRequest, body)
            if body.strip()
            else v2.RepositoryIndexRequest()
        )
        items = dp.repository_index(query.ready)
        return _answer(200, [item.model_dump(exclude_none=True) for item in items])

    @app.post(
        "/v2/repository/models/{model_name}/load",
        responses=_ERRORS,
        openapi_extra=_body(v2.RepositoryLoadRequest, required=False),
        tags=["repository"],
    )
    async def repository_load(model_name: str, request: Request) -> Response:
        """Load or reload a model; `parameters.config` (Triton's config, JSON) applies to
        this load; `storage_uri`, `memory` and `lazy` register a model pulled from storage;
        anything else is refused with 400 naming the field."""
        body = await read_body(request.scope, request.receive, max_request_size)
        doc = parse_json(v2.RepositoryLoadRequest, body) if body.strip() else None
        await dp.load(model_name, doc.parameters if doc is not None else None)
        return _answer(200, {})

    @app.post(
        "/v2/repository/models/{model_name}/unload",
        responses=_ERRORS,
        openapi_extra=_body(v2.RepositoryUnloadRequest, required=False),
        tags=["repository"],
    )
    async def repository_unload(model_name: str, request: Request) -> Response:
        """Unload a model and free its memory; `parameters.unregister: true` also forgets a
        registered model and deletes its pulled files."""
        body = await read_body(request.scope, request.receive, max_request_size)
        doc = parse_json(v2.RepositoryUnloadRequest, body) if body.strip() else None
        await dp.unload(model_name, doc.parameters if doc is not None else None)
        return _answer(200, {})

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi() -> Response:
        return _answer(200, schema(app))

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title="modelplane model server: V2 REST API",
            swagger_js_url=f"{DOCS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_PATH}/favicon-32x32.png",
        )

    @app.get(DOCS_PATH + "/{asset}", include_in_schema=False)
    async def docs_asset(asset: str) -> Response:
        if asset not in _ASSETS:
            raise ModelNotFound(f"no such endpoint: {DOCS_PATH}/{asset}")
        return FileResponse(_swagger_ui_dir() / asset)

    return app


def schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document: FastAPI's routes plus the raw infer route (built once, kept)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    bodies = (
        v2.InferenceRequest,
        v2.InferenceResponse,
        v2.RepositoryIndexRequest,
        v2.RepositoryLoadRequest,
        v2.RepositoryUnloadRequest,
        v2.ErrorResponse,
    )
    _, defs = models_json_schema([(m, "validation") for m in bodies], ref_template=_REF)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)
    for base in _VERSIONED:
        doc["paths"][base + "/infer"] = {"post": infer_operation("versions" in base)}
    app.openapi_schema = doc
    return doc


def infer_operation(versioned: bool) -> dict[str, Any]:
    """The OpenAPI operation of `POST .../infer` (served by the raw ASGI route)."""
    params = [_path_param("model_name")] + ([_path_param("model_version")] if versioned else [])
    error = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorResponse")}}}
    return {
        "tags": ["inference"],
        "summary": "Infer",
        "operationId": "model_infer_version" if versioned else "model_infer",
        "description": "Run an inference. The body is JSON, or with the binary tensor "
        "extension a JSON header of `Inference-Header-Content-Length` bytes followed by raw "
        "tensor bytes (inputs with `parameters.binary_data_size`); outputs come back binary "
        "when asked (`binary_data_output`, or an output's `binary_data`). Non-finite floats "
        "are written and read as the JSON tokens NaN, Infinity and -Infinity.",
        "parameters": [
            *params,
            {
                "name": "Inference-Header-Content-Length",
                "in": "header",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
                "description": "length of the JSON header when binary tensors follow it",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model="InferenceRequest")}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        "responses": {
            "200": {
                "description": "the outputs",
                "content": {
                    "application/json": {
                        "schema": {"$ref": _REF.format(model="InferenceResponse")}
                    },
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            **{
                str(code): {"description": what, "content": error}
                for code, what in (
                    (400, "invalid request (the message names the field)"),
                    (404, "no such model or version"),
                    (413, "request body too large"),
                    (500, "the model raised"),
                    (503, "the model is not ready, or its queue is full"),
                    (504, "the inference deadline passed"),
                )
            },
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _body(model: type[BaseModel], required: bool) -> dict[str, Any]:
    ref = {"$ref": _REF.format(model=model.__name__)}
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": ref}}}}


def _answer(status: int, doc: Any) -> Response:
    if isinstance(doc, BaseModel):
        doc = doc.model_dump(exclude_none=True)
    return JSONResponse(doc, status_code=status)


def _swagger_ui_dir() -> Path:
    """swagger-ui-py's copy of Swagger UI 5 (it reads OpenAPI 3.1), found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound("the docs need the swagger-ui-py package (the server extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"
