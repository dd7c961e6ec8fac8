"""`v2grpc.messages.rest_document`: a gRPC message as V2's REST API writes it, 64-bit
integers as numbers (protobuf's JSON mapping writes them as strings)."""

from __future__ import annotations

from google.protobuf import json_format

from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.messages import rest_document


def test_shapes_dims_and_64_bit_fields_are_numbers_at_every_depth() -> None:
    meta = pb.ModelMetadataResponse(name="m", platform="onnxruntime_onnx")
    meta.inputs.add(name="x", datatype="FP32").shape.extend([-1, 8])
    meta.outputs.add(name="y", datatype="INT64").shape.extend([3])
    assert rest_document(meta) == {
        "name": "m",
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 8]}],
        "outputs": [{"name": "y", "datatype": "INT64", "shape": [3]}],
    }
    config = pb.ModelConfig(name="m", max_batch_size=8)
    config.input.add(name="x", data_type=pb.TYPE_FP32).dims.extend([-1, 8])
    config.dynamic_batching.max_queue_delay_microseconds = 2**40  # uint64
    config.parameters["k"].string_value = "v"
    document = rest_document(config)
    assert document["input"] == [{"name": "x", "data_type": "TYPE_FP32", "dims": [-1, 8]}]
    assert document["dynamic_batching"] == {"max_queue_delay_microseconds": 2**40}
    assert document["parameters"] == {"k": {"string_value": "v"}}
    assert document["max_batch_size"] == 8


def test_a_parameter_map_keeps_its_64_bit_values_as_numbers_and_round_trips() -> None:
    request = pb.ModelInferRequest(model_name="m")
    request.parameters["n"].int64_param = -(2**62)
    request.parameters["s"].string_param = "q"
    request.parameters["b"].bool_param = True
    document = rest_document(request)
    assert document["parameters"] == {
        "n": {"int64_param": -(2**62)},
        "s": {"string_param": "q"},
        "b": {"bool_param": True},
    }
    assert json_format.ParseDict(document, pb.ModelInferRequest()) == request
