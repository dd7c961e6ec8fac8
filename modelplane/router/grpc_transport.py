"""Calling model servers over V2 gRPC: one reused channel per upstream, raw tensor contents.

A request is sent as bytes the router serializes itself, with the step's model name appended
as a last ``model_name`` field (protobuf keeps the last value of a scalar field), so one
message can feed several steps at once (an Ensemble) without a copy or a shared mutation.
Like the REST transports it raises only ``TimeoutError`` and ``ConnectionFailed``
(``UNAVAILABLE`` because nothing answered: worth a retry); every other gRPC code is an
answer, turned into the HTTP status the retry and dependency rules use (`codes`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import grpc
import orjson

from modelplane.router.codes import http_status
from modelplane.router.errors import ConnectionFailed
from modelplane.router.transport import Reply
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.messages import rest_document

INFER_METHOD = "/inference.GRPCInferenceService/ModelInfer"
METADATA_METHOD = "/inference.GRPCInferenceService/ModelMetadata"
CONFIG_METHOD = "/inference.GRPCInferenceService/ModelConfig"
_MODEL_NAME_TAG = b"\x0a"  # field 1 (model_name), wire type 2 (length-delimited)
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
    ("grpc.enable_retries", 0),  # the router's own retry policy decides
)
_NO_CONNECTION = "failed to connect"  # grpc's UNAVAILABLE detail when nothing answered
# Headers that describe the HTTP body or are reserved by gRPC; never sent as metadata.
_NOT_METADATA = frozenset({"content-type", "accept-encoding", "content-length", "te"})


def with_model_name(serialized: bytes, model: str) -> bytes:
    """A serialized ModelInferRequest addressed to ``model`` (the last model_name wins)."""
    name = model.encode()
    return serialized + _MODEL_NAME_TAG + _varint(len(name)) + name


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def error_reply(exc: grpc.RpcError) -> Reply:
    """A failed call as the upstream's answer: its code as the HTTP status the retry and
    dependency rules use, its details as the error; ConnectionFailed when nothing answered."""
    code, details = exc.code(), exc.details() or ""  # a grpc.Call too
    if code == grpc.StatusCode.UNAVAILABLE and _NO_CONNECTION in details.lower():
        raise ConnectionFailed(f"gRPC UNAVAILABLE: {details}") from exc
    body = orjson.dumps({"error": details or code.name})
    return Reply(http_status(code), body, b"application/json")


def model_infer(channel: grpc.Channel | grpc.aio.Channel) -> Any:
    """ModelInfer on a channel (grpc.aio's or grpc's synchronous one), taking the bytes the
    router serialized."""
    return channel.unary_unary(
        INFER_METHOD,
        request_serializer=None,
        response_deserializer=pb.ModelInferResponse.FromString,
    )


def answered(message: Any) -> Reply:
    """A ModelInferResponse as the upstream's 200 answer."""
    return Reply(200, b"", b"application/grpc", message=message)


def metadata(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The forwarded headers as gRPC metadata."""
    return tuple((k, v) for k, v in headers.items() if k not in _NOT_METADATA)


class GrpcCalls(Protocol):
    """What a graph's run needs of a gRPC transport: `GrpcTransport` on the event loop,
    `grpc_block.BlockingGrpcTransport` on the threaded path."""

    async def infer(
        self,
        target: str,
        request: bytes,
        meta: tuple[tuple[str, str], ...],
        limit: float | None = None,
    ) -> Reply:
        """ModelInfer on one upstream (TimeoutError, ConnectionFailed or the answer)."""
        ...

    async def aclose(self) -> None:
        """Close every channel."""
        ...


class GrpcTransport:
    """One grpc.aio channel per upstream target (host:port), opened on first use."""

    def __init__(self) -> None:
        self._calls: dict[str, Callable[..., Any]] = {}
        self._channels: dict[str, grpc.aio.Channel] = {}

    def _channel(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
            self._channels[target] = channel
        return channel

    def _call(self, target: str) -> Callable[..., Any]:
        call = self._calls.get(target)
        if call is None:
            call = self._calls[target] = model_infer(self._channel(target))
        return call

    async def infer(
        self,
        target: str,
        request: bytes,
        meta: tuple[tuple[str, str], ...],
        limit: float | None = None,
    ) -> Reply:
        """ModelInfer on one upstream; the reply carries the response message or the error.

        TimeoutError when no answer came within `limit` seconds (an upstream's own
        DEADLINE_EXCEEDED is its answer, 504).
        """
        try:
            async with asyncio.timeout(limit):
                message = await self._call(target)(request, metadata=meta)
        except grpc.aio.AioRpcError as exc:
            return error_reply(exc)
        return answered(message)

    async def describe(
        self, target: str, model: str, limit: float | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A model's metadata and its configuration (None when the server has none), as JSON
        documents in the V2 REST form (ModelMetadata, ModelConfig)."""
        channel = self._channel(target)
        try:
            async with asyncio.timeout(limit):
                meta = await channel.unary_unary(
                    METADATA_METHOD,
                    request_serializer=pb.ModelMetadataRequest.SerializeToString,
                    response_deserializer=pb.ModelMetadataResponse.FromString,
                )(pb.ModelMetadataRequest(name=model))
                try:
                    config = await channel.unary_unary(
                        CONFIG_METHOD,
                        request_serializer=pb.ModelConfigRequest.SerializeToString,
                        response_deserializer=pb.ModelConfigResponse.FromString,
                    )(pb.ModelConfigRequest(name=model))
                except grpc.aio.AioRpcError as exc:
                    if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                        raise
                    config = None
        except grpc.aio.AioRpcError as exc:
            raise ConnectionFailed(f"gRPC {exc.code().name}: {exc.details() or ''}") from exc
        metadata = rest_document(meta)
        return metadata, None if config is None else rest_document(config.config)

    async def aclose(self) -> None:
        """Close every channel."""
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        self._calls.clear()
