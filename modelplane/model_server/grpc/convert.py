"""Conversions between the gRPC messages and the V2 wire types (the only place that knows both)."""

from __future__ import annotations

from typing import Any

from modelplane.model_server.errors import InferenceFailed, InvalidInput
from modelplane.model_server.protocol.codec import to_raw
from modelplane.model_server.protocol.types import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    RequestInput,
    RequestOutput,
)
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.messages import CONTENTS_FIELD, NotAParameter, fill_params, params_to_dict

# Which typed `contents` field carries each datatype (FP16/BF16 travel only as raw bytes).


def to_request(msg: Any) -> InferenceRequest:
    """A ModelInferRequest as an InferenceRequest (raw contents attached, typed contents as data)."""
    try:
        return _request(msg)
    except NotAParameter as exc:
        raise InvalidInput(str(exc)) from exc


def _request(msg: Any) -> InferenceRequest:
    raw = msg.raw_input_contents
    if raw and len(raw) != len(msg.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries but the request has {len(msg.inputs)} inputs"
        )
    inputs: list[RequestInput] = []
    for i, tensor in enumerate(msg.inputs):
        inp = RequestInput.model_construct(
            name=tensor.name,
            shape=list(tensor.shape),
            datatype=tensor.datatype,
            parameters=params_to_dict(tensor.parameters),
            data=None,
        )
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"input {tensor.name!r}: has typed contents while the request also carries "
                    "raw_input_contents; send every input one way"
                )
            inp.with_raw(raw[i])
        elif tensor.HasField("contents"):
            inp.data = _contents(tensor)
        inputs.append(inp)
    outputs = [
        RequestOutput.model_construct(name=o.name, parameters=params_to_dict(o.parameters))
        for o in msg.outputs
    ]
    return InferenceRequest.model_construct(
        id=msg.id or None,
        parameters=params_to_dict(msg.parameters),
        inputs=inputs,
        outputs=outputs or None,
    )


def _contents(tensor: Any) -> list[Any]:
    field = CONTENTS_FIELD.get(tensor.datatype)
    if field is None:
        raise InvalidInput(
            f"input {tensor.name!r}: {tensor.datatype or 'empty datatype'} has no typed contents "
            "field; send it in raw_input_contents"
        )
    return list(getattr(tensor.contents, field))


def to_response_message(response: InferenceResponse) -> Any:
    """An InferenceResponse as a ModelInferResponse with every output in raw_output_contents."""
    msg = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version or "",
        id=response.id or "",
    )
    try:  # a model's own parameter may be one gRPC cannot carry (REST can)
        fill_params(msg.parameters, response.parameters)
        for out in response.outputs:
            tensor = msg.outputs.add(name=out.name, datatype=out.datatype, shape=out.shape)
            fill_params(tensor.parameters, out.parameters)
            assert out.array is not None
            msg.raw_output_contents.append(bytes(to_raw(out.array)))
    except NotAParameter as exc:
        raise InferenceFailed(f"the answer cannot be sent over gRPC: {exc}") from exc
    return msg


def metadata_message(meta: ModelMetadata) -> Any:
    """ModelMetadata as a ModelMetadataResponse."""
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=meta.name,
        versions=meta.versions,
        platform=meta.platform,
        inputs=[tensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in meta.inputs],
        outputs=[tensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in meta.outputs],
    )
