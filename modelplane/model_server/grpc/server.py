"""The gRPC edge: inference.GRPCInferenceService on grpc.aio, errors mapped to status codes."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format

from modelplane.model_server.dataplane import DataPlane
from modelplane.model_server.errors import InvalidInput, ModelServerError
from modelplane.model_server.grpc.convert import (
    metadata_message,
    to_request,
    to_response_message,
)
from modelplane.model_server.metrics import Metered
from modelplane.model_server.settings import ServerSettings
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from modelplane.v2grpc.listen import serve
from modelplane.v2grpc.messages import NotAParameter, params_to_dict
from modelplane.v2grpc.stream import answer_stream

log = logging.getLogger(__name__)
R = TypeVar("R")
Handler = Callable[[Any, Any, Any], Awaitable[R]]


def _edge(method: Handler[R]) -> Handler[R]:
    """Map the error hierarchy to gRPC status codes; log anything unexpected."""

    @functools.wraps(method)
    async def wrapped(self: Any, request: Any, context: Any) -> R:
        try:
            return await method(self, request, context)
        except ModelServerError as exc:
            await context.abort(grpc.StatusCode[exc.grpc_code], exc.message)
        except Exception:
            log.exception("unhandled gRPC error", extra={"method": method.__name__})
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
        raise AssertionError("unreachable: context.abort raises")

    return wrapped


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    """Each RPC is one data plane call plus a message conversion."""

    def __init__(self, dataplane: DataPlane) -> None:
        self._dp = dataplane

    @_edge
    async def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=self._dp.live())

    @_edge
    async def ServerReady(self, request: Any, context: Any) -> Any:
        return pb.ServerReadyResponse(ready=self._dp.ready())

    @_edge
    async def ModelReady(self, request: Any, context: Any) -> Any:
        return pb.ModelReadyResponse(
            ready=self._dp.model_ready(request.name, request.version or None)
        )

    @_edge
    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        meta = self._dp.server_metadata()
        return pb.ServerMetadataResponse(
            name=meta.name, version=meta.version, extensions=meta.extensions
        )

    @_edge
    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        return metadata_message(self._dp.model_metadata(request.name, request.version or None))

    @_edge
    async def ModelInfer(self, request: Any, context: Any) -> Any:
        return await self._infer(request)

    async def _infer(self, request: Any) -> Any:
        model, version = request.model_name, request.model_version or None
        with Metered(self._dp.metrics, model, version, "grpc") as metered:
            response = await self._dp.infer(model, version, to_request(request))
            message = to_response_message(response)
            metered.version = response.model_version or metered.version
        return message

    async def ModelStreamInfer(self, requests: Any, context: Any) -> AsyncIterator[Any]:
        """Triton's streaming inference: each request answered on the stream, in order
        (`modelplane.v2grpc.stream`); one that fails is answered with its `error_message`."""
        async for answer in answer_stream(requests, self._streamed):
            yield answer

    async def _streamed(self, request: Any) -> Any:
        """One request of a stream, answered as ModelStreamInferResponse."""
        try:
            return pb.ModelStreamInferResponse(infer_response=await self._infer(request))
        except ModelServerError as exc:
            message = exc.message
        except Exception:
            log.exception("unhandled gRPC error", extra={"method": "ModelStreamInfer"})
            message = "internal server error"
        failed = pb.ModelInferResponse(
            model_name=request.model_name, model_version=request.model_version, id=request.id
        )
        return pb.ModelStreamInferResponse(error_message=message, infer_response=failed)

    @_edge
    async def ModelConfig(self, request: Any, context: Any) -> Any:
        doc = self._dp.model_config(request.name, request.version or None).model_dump(
            exclude_none=True
        )
        return pb.ModelConfigResponse(config=json_format.ParseDict(doc, pb.ModelConfig()))

    @_edge
    async def ModelStatistics(self, request: Any, context: Any) -> Any:
        doc = self._dp.model_statistics(request.name or None, request.version or None).model_dump(
            exclude_none=True
        )
        return json_format.ParseDict(doc, pb.ModelStatisticsResponse())

    @_edge
    async def RepositoryIndex(self, request: Any, context: Any) -> Any:
        entry = pb.RepositoryIndexResponse.ModelIndex
        items = self._dp.repository_index(request.ready)
        return pb.RepositoryIndexResponse(
            models=[
                entry(name=i.name, version=i.version or "", state=i.state, reason=i.reason)
                for i in items
            ]
        )

    @_edge
    async def RepositoryModelLoad(self, request: Any, context: Any) -> Any:
        await self._dp.load(request.model_name, _parameters(request.parameters))
        return pb.RepositoryModelLoadResponse()

    @_edge
    async def RepositoryModelUnload(self, request: Any, context: Any) -> Any:
        await self._dp.unload(request.model_name, _parameters(request.parameters))
        return pb.RepositoryModelUnloadResponse()


def _parameters(given: Any) -> dict[str, Any] | None:
    """A repository request's parameters (InvalidInput for one with no value)."""
    try:
        return params_to_dict(given)
    except NotAParameter as exc:
        raise InvalidInput(str(exc)) from exc


async def start_grpc_server(dataplane: DataPlane, settings: ServerSettings) -> tuple[Any, int]:
    """Start grpc.aio on settings.grpc_port (0 picks a free port); returns (server, port)."""
    servicer = InferenceServicer(dataplane)
    shared = settings.workers > 1  # sibling workers bind the same port
    return await serve(
        servicer, settings.host, settings.grpc_port, settings.max_request_size, reuse_port=shared
    )
