"""The router's gRPC edge: ``inference.GRPCInferenceService`` for the graph as a V2 model.

ModelInfer runs the graph named after the InferenceGraph (another name is NOT_FOUND);
ServerLive, ServerReady, ServerMetadata, ModelReady, ModelMetadata and ModelConfig answer as
a model server's would (the graph's tensors read from its steps' models: `describe`); the
statistics and repository RPCs are UNIMPLEMENTED, saying why. The router's answers map to gRPC codes in one table (`codes`); the details
carry the router's error document as JSON, so a client sees the same error and step. Soft
steps that failed are named in the trailing metadata ``x-modelplane-soft-failures``, as a
REST answer's header names them. ModelStreamInfer answers each request of a stream in
order (`modelplane.v2grpc.stream`): a failure is that answer's `error_message` (the same JSON
document), and the Soft steps that failed are named in its `graph_soft_failures` parameter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from google.protobuf import json_format

from modelplane import __version__
from modelplane.router.answer import SOFT_FAILURES_PARAMETER
from modelplane.router.app import RouterApp
from modelplane.router.codes import grpc_code
from modelplane.router.errors import Undescribed
from modelplane.router.headers import SOFT_FAILURES
from modelplane.router.served import (
    EXTENSIONS,
    NO_REPOSITORY,
    NO_STATISTICS,
    no_versions,
    not_served,
)
from modelplane.router.signature import Signature, config_document, metadata_document
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from modelplane.v2grpc.listen import serve
from modelplane.v2grpc.stream import answer_stream


class RouterServicer(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    """Each RPC answers for the one graph the RouterApp serves."""

    def __init__(self, app: RouterApp) -> None:
        self.app = app
        self.name = app.graph.name

    async def _known(self, name: str, version: str, context: Any) -> None:
        unknown = self._unknown(name, version)
        if unknown is not None:
            await context.abort(grpc.StatusCode.NOT_FOUND, unknown)

    def _unknown(self, name: str, version: str) -> str | None:
        """Why `name` (at `version`) is not what this router serves, or None."""
        if name != self.name:
            return not_served(name, self.name)
        return no_versions(name) if version else None

    async def ServerLive(self, request: Any, context: Any) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        return pb.ServerReadyResponse(ready=self.app.ready)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        return pb.ServerMetadataResponse(
            name="modelplane-router", version=__version__, extensions=EXTENSIONS
        )

    async def ModelReady(self, request: Any, context: Any) -> Any:
        await self._known(request.name, request.version, context)
        return pb.ModelReadyResponse(ready=self.app.ready)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        await self._known(request.name, request.version, context)
        document = metadata_document(self.name, await self._signature(context))
        return json_format.ParseDict(document, pb.ModelMetadataResponse())

    async def ModelConfig(self, request: Any, context: Any) -> Any:
        await self._known(request.name, request.version, context)
        document = config_document(self.name, await self._signature(context))
        try:
            config = json_format.ParseDict(document, pb.ModelConfig(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"the steps' configuration: {exc}")
        return pb.ModelConfigResponse(config=config)

    async def ModelStatistics(self, request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, NO_STATISTICS)

    async def RepositoryIndex(self, request: Any, context: Any) -> Any:
        await self._no_repository(context)

    async def RepositoryModelLoad(self, request: Any, context: Any) -> Any:
        await self._no_repository(context)

    async def RepositoryModelUnload(self, request: Any, context: Any) -> Any:
        await self._no_repository(context)

    async def _no_repository(self, context: Any) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, NO_REPOSITORY)

    async def _signature(self, context: Any) -> Signature:
        try:
            return await self.app.signature()
        except Undescribed as exc:
            await context.abort(grpc_code(exc.status), str(exc))
            raise  # abort raises; this line is for the type checker

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        await self._known(request.model_name, request.model_version, context)
        status, answer, details, soft = await self.app.infer_message(
            request, context.invocation_metadata() or ()
        )
        trailing = ((SOFT_FAILURES, ",".join(soft)),) if soft else ()
        if answer is None:
            await context.abort(grpc_code(status), details, trailing)
        if trailing:
            context.set_trailing_metadata(trailing)
        return answer

    async def ModelStreamInfer(self, requests: Any, context: Any) -> AsyncIterator[Any]:
        metadata = tuple(context.invocation_metadata() or ())

        async def streamed(request: Any) -> Any:
            return await self._streamed(request, metadata)

        async for answer in answer_stream(requests, streamed):
            yield answer

    async def _streamed(self, request: Any, metadata: Iterable[tuple[str, str | bytes]]) -> Any:
        """One request of a stream, answered as ModelStreamInferResponse."""
        failed = pb.ModelInferResponse(model_name=request.model_name, id=request.id)
        unknown = self._unknown(request.model_name, request.model_version)
        if unknown is not None:
            return pb.ModelStreamInferResponse(error_message=unknown, infer_response=failed)
        _, answer, details, soft = await self.app.infer_message(request, metadata)
        if answer is None:
            return pb.ModelStreamInferResponse(error_message=details, infer_response=failed)
        if soft:
            answer.parameters[SOFT_FAILURES_PARAMETER].string_param = ",".join(soft)
        return pb.ModelStreamInferResponse(infer_response=answer)


async def start_grpc_server(app: RouterApp, host: str, port: int) -> tuple[Any, int]:
    """Start grpc.aio for the router on host:port (0 picks a free port); (server, port)."""
    return await serve(RouterServicer(app), host, port, app.settings.max_request_size)
