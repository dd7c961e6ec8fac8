"""Every bad input gets a 4xx (or gRPC code) naming what is wrong, and the server keeps serving.

The tables below are the record of what was tried and the status each got.
"""

from __future__ import annotations

import gzip
import json
import struct
from typing import Any

import grpc
import httpx
import numpy as np
import pytest

from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from tests.support.model_server import RunningServer

INFER = "/v2/models/simple/infer"
ROW = [1.0, 2.0, 3.0, 4.0]


def _doc(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def _inp(
    name: str = "INPUT0", shape: Any = (1, 4), datatype: str = "FP32", data: Any = ROW, **kw: Any
) -> dict[str, Any]:
    out = {
        "name": name,
        "shape": list(shape) if isinstance(shape, tuple) else shape,
        "datatype": datatype,
        **kw,
    }
    if data is not None:
        out["data"] = data
    return out


GOOD = [_inp("INPUT0"), _inp("INPUT1")]


def _binary(
    header: dict[str, Any], tail: bytes, header_len: str | None = None
) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + tail, {"Inference-Header-Content-Length": header_len or str(len(head))}


_bin_in = {
    "name": "INPUT0",
    "shape": [1, 4],
    "datatype": "FP32",
    "parameters": {"binary_data_size": 16},
}
_trunc_body, _trunc_headers = _binary(
    {"inputs": [{**_bin_in, "parameters": {"binary_data_size": 32}}, _inp("INPUT1")]}, b"\0" * 16
)
_extra_body, _extra_headers = _binary({"inputs": [_bin_in, _inp("INPUT1")]}, b"\0" * 20)
_short_body, _short_headers = _binary(
    {"inputs": [{**_bin_in, "shape": [2, 4]}, _inp("INPUT1", shape=(2, 4), data=ROW * 2)]},
    b"\0" * 16,
)
_hlen_body, _ = _binary({"inputs": GOOD}, b"")
_bytes_in = {
    "name": "INPUT0",
    "shape": [1, 3],
    "datatype": "BYTES",
    "parameters": {"binary_data_size": 15},
}
_bytes_tail = struct.pack("<I", 100) + b"abc" + bytes(8)
_bytes_body, _bytes_headers = _binary({"inputs": [_bytes_in]}, _bytes_tail)

# (case, method, path, body, headers, expected status, words the error must contain)
REST_CASES: list[tuple[str, str, str, bytes, dict[str, str], int, str]] = [
    ("malformed JSON", "POST", INFER, b'{"inputs": [', {}, 400, "malformed JSON"),
    ("JSON array, not object", "POST", INFER, b"[1, 2]", {}, 400, "body"),
    ("no inputs field", "POST", INFER, b"{}", {}, 400, "inputs"),
    ("shape element true", "POST", INFER, _doc(_inp(shape=[True, 4]), GOOD[1]), {}, 400, "inputs.0.shape.0"),
    ("shape element 1.0", "POST", INFER, _doc(_inp(shape=[1.0, 4]), GOOD[1]), {}, 400, "inputs.0.shape.0"),
    ("binary_data_size, no binary part", "POST", INFER, _doc(_bin_in, GOOD[1]), {}, 400, "no Inference-Header-Content-Length"),
    ("shape is a string", "POST", INFER, _doc(_inp(shape="1x4"), GOOD[1]), {}, 400, "inputs.0.shape"),
    ("unknown datatype", "POST", INFER, _doc(_inp(datatype="FLOAT"), GOOD[1]), {}, 400, "unknown datatype 'FLOAT'"),
    ("wrong datatype for model", "POST", INFER, _doc(_inp(datatype="FP64"), GOOD[1]), {}, 400, "datatype FP64 does not match the model's FP32"),
    ("data shorter than shape", "POST", INFER, _doc(_inp(data=[1.0, 2.0, 3.0]), GOOD[1]), {}, 400, "data has 3 elements but shape [1, 4] needs 4"),
    ("shape does not fit model", "POST", INFER, _doc(_inp(shape=(1, 5), data=[*ROW, 5.0]), GOOD[1]), {}, 400, "shape [1, 5] does not match the model's [-1, 4]"),
    ("negative dimension", "POST", "/v2/models/identity_fp32/infer", _doc(_inp(shape=(-1, 3), data=[1, 2, 3])), {}, 400, "negative dimension"),
    ("strings in FP32 data", "POST", INFER, _doc(_inp(data=["a", "b", "c", "d"]), GOOD[1]), {}, 400, "data is not FP32"),
    ("INT8 out of range", "POST", "/v2/models/identity_int8/infer", _doc(_inp(shape=(1, 3), datatype="INT8", data=[1, 2, 300])), {}, 400, "data is not INT8"),
    ("fraction in INT8 data", "POST", "/v2/models/identity_int8/infer", _doc(_inp(shape=(1, 3), datatype="INT8", data=[1, 2, 1.5])), {}, 400, "data is not INT8: 1.5 is not an integer"),
    ("string number in INT8 data", "POST", "/v2/models/identity_int8/infer", _doc(_inp(shape=(1, 3), datatype="INT8", data=[1, 2, "7"])), {}, 400, 'data is not INT8: "7" is not an integer'),
    ("integer past 64 bits", "POST", "/v2/models/identity_int8/infer", _doc(_inp(shape=(1, 3), datatype="INT8", data=[1, 2, 2**70])), {}, 400, "data is not INT8: 1180591620717411303424 is out of range for int8"),
    ("null in FP32 data", "POST", INFER, _doc(_inp(data=[1.0, None, 3.0, 4.0]), GOOD[1]), {}, 400, "data is not FP32: null is not a number"),
    ("true in FP32 data", "POST", INFER, _doc(_inp(data=[True, False, True, True]), GOOD[1]), {}, 400, "data is not FP32: true is not a number"),
    ("true among FP32 numbers", "POST", INFER, _doc(_inp(data=[1.0, 2.0, True, 4.0]), GOOD[1]), {}, 400, "data is not FP32: true is not a number"),
    ("false among INT8 numbers", "POST", "/v2/models/identity_int8/infer", _doc(_inp(shape=(1, 3), datatype="INT8", data=[1, False, 3])), {}, 400, "data is not INT8: false is not an integer"),
    ("FP32 data past its range", "POST", INFER, _doc(_inp(data=[1.0, 1e39, 3.0, 4.0]), GOOD[1]), {}, 400, "data is not FP32: 1e+39 is out of range for float32"),
    ("ragged nested data", "POST", INFER, _doc(_inp(shape=(2, 2), data=[[1.0, 2.0], [3.0]]), GOOD[1]), {}, 400, "INPUT0"),
    ("raw bytes smuggled in JSON", "POST", INFER, _doc(_inp(data=None, raw="AAAA"), GOOD[1]), {}, 400, "inputs.0.raw"),
    ("no data at all", "POST", INFER, _doc(_inp(data=None), GOOD[1]), {}, 400, "no 'data'"),
    ("missing input", "POST", INFER, _doc(GOOD[0]), {}, 400, "'INPUT1' is missing"),
    ("unknown input", "POST", INFER, _doc(*GOOD, _inp("INPUT9")), {}, 400, "'INPUT9' is not an input"),
    ("duplicate input", "POST", INFER, _doc(*GOOD, GOOD[0]), {}, 400, "more than once"),
    ("unknown output", "POST", INFER, _doc(*GOOD, outputs=[{"name": "NOPE"}]), {}, 400, "output 'NOPE'"),
    ("request parameter integer past 64 bits", "POST", INFER, _doc(*GOOD, parameters={"timeout": 10**30}), {}, 400, "parameters: Value error, the integer 1000000000000000000000000000000 does not fit 64 bits"),
    ("output parameter integer past 64 bits", "POST", INFER, _doc(*GOOD, outputs=[{"name": "OUTPUT0", "parameters": {"classification": 10**20}}]), {}, 400, "outputs.0.parameters: Value error, the integer 100000000000000000000 does not fit 64 bits"),
    ("binary_data_output a string", "POST", INFER, _doc(*GOOD, parameters={"binary_data_output": "false"}), {}, 400, "parameters.binary_data_output must be true or false, not 'false'"),
    ("an output's binary_data a number", "POST", INFER, _doc(*GOOD, outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": 1}}]), {}, 400, "output 'OUTPUT0': parameters.binary_data must be true or false, not 1"),
    ("output asked for twice", "POST", INFER, _doc(*GOOD, outputs=[{"name": "OUTPUT0"}, {"name": "OUTPUT0"}]), {}, 400, "'OUTPUT0' is asked for more than once"),
    ("unknown model", "POST", "/v2/models/nope/infer", _doc(*GOOD), {}, 404, "model 'nope'"),
    ("unknown version", "POST", "/v2/models/simple/versions/9/infer", _doc(*GOOD), {}, 404, "no version '9'"),
    ("unknown model metadata", "GET", "/v2/models/nope", b"", {}, 404, "model 'nope'"),
    ("oversized body", "POST", INFER, b"{" + b" " * (2 << 20) + b"}", {}, 413, "exceeds the limit"),
    ("truncated binary payload", "POST", INFER, _trunc_body, _trunc_headers, 400, "only 16 bytes"),
    ("binary tail not claimed", "POST", INFER, _extra_body, _extra_headers, 400, "not claimed"),
    ("binary size vs shape", "POST", INFER, _short_body, _short_headers, 400, "binary data has 16 bytes but shape [2, 4]"),
    ("header length past body", "POST", INFER, _hlen_body, {"Inference-Header-Content-Length": "99999"}, 400, "Inference-Header-Content-Length"),
    ("header length not a number", "POST", INFER, _hlen_body, {"Inference-Header-Content-Length": "ten"}, 400, "not an integer"),
    ("BYTES element past the end", "POST", "/v2/models/identity_bytes/infer", _bytes_body, _bytes_headers, 400, "runs past the data"),
    ("Content-Encoding gzip, body is not", "POST", INFER, _doc(*GOOD), {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
    ("gzip bomb past the size limit", "POST", INFER, gzip.compress(b" " * (4 << 20)), {"Content-Encoding": "gzip"}, 413, "decompressed request body exceeds"),
    ("unsupported Content-Encoding", "POST", INFER, _doc(*GOOD), {"Content-Encoding": "br"}, 415, "'br' is not supported (it takes gzip, deflate)"),
    ("BYTES shape far beyond its data", "POST", "/v2/models/identity_bytes/infer", *_binary({"inputs": [{**_bytes_in, "shape": [10**12, 3]}]}, struct.pack("<I", 11) + b"abc" + bytes(8)), 400, "cannot hold"),
    ("GET on infer", "GET", INFER, b"", {}, 405, "takes POST"),
    ("unknown path", "GET", "/v2/nothing/here", b"", {}, 404, "no such endpoint"),
    ("load unknown model", "POST", "/v2/repository/models/nope/load", b"", {}, 404, "model 'nope'"),
    ("bad index body", "POST", "/v2/repository/index", b'{"ready": "maybe"}', {}, 400, "ready"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "method", "path", "body", "headers", "status", "words"),
    REST_CASES,
    ids=[c[0] for c in REST_CASES],
)
def test_rest_bad_input_gets_4xx_naming_the_problem(
    onnx_server: RunningServer,
    case: str,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    words: str,
) -> None:
    response = httpx.request(
        method, onnx_server.url + path, content=body, headers=headers, timeout=10
    )
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    if status == 415:  # a coding not taken: the answer says which are (RFC 9110 15.5.16)
        assert response.headers["accept-encoding"] == "gzip, deflate"


def _req(**kw: Any) -> Any:
    msg = pb.ModelInferRequest(
        model_name=kw.pop("model", "simple"), model_version=kw.pop("version", "")
    )
    for name, dt, shape, values in kw.pop(
        "inputs", [("INPUT0", "FP32", [1, 4], ROW), ("INPUT1", "FP32", [1, 4], ROW)]
    ):
        tensor = msg.inputs.add(name=name, datatype=dt, shape=shape)
        if values is not None:
            tensor.contents.fp32_contents.extend(values)
    for raw in kw.pop("raw", []):
        msg.raw_input_contents.append(raw)
    for out in kw.pop("outputs", []):
        msg.outputs.add(name=out)
    assert not kw
    return msg


_f32 = np.ones(4, np.float32).tobytes()
_unset = _req()
_unset.parameters["p"].SetInParent()  # a parameter with no value (it was echoed as "None")
GRPC_CASES: list[tuple[str, Any, grpc.StatusCode, str]] = [
    ("unknown model", _req(model="nope"), grpc.StatusCode.NOT_FOUND, "model 'nope'"),
    ("unknown version", _req(version="9"), grpc.StatusCode.NOT_FOUND, "no version '9'"),
    ("wrong datatype", _req(inputs=[("INPUT0", "FP64", [1, 4], None), ("INPUT1", "FP32", [1, 4], ROW)]), grpc.StatusCode.INVALID_ARGUMENT, "datatype FP64"),
    ("typed contents too short", _req(inputs=[("INPUT0", "FP32", [1, 4], ROW[:2]), ("INPUT1", "FP32", [1, 4], ROW)]), grpc.StatusCode.INVALID_ARGUMENT, "data has 2 elements"),
    ("no contents", _req(inputs=[("INPUT0", "FP32", [1, 4], None), ("INPUT1", "FP32", [1, 4], ROW)]), grpc.StatusCode.INVALID_ARGUMENT, "no 'data'"),
    ("typed contents and raw", _req(inputs=[("INPUT0", "FP32", [1, 4], ROW), ("INPUT1", "FP32", [1, 4], None)], raw=[_f32, _f32]), grpc.StatusCode.INVALID_ARGUMENT, "typed contents"),
    ("raw count != inputs", _req(inputs=[("INPUT0", "FP32", [1, 4], None), ("INPUT1", "FP32", [1, 4], None)], raw=[_f32]), grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents has 1 entries"),
    ("raw size != shape", _req(inputs=[("INPUT0", "FP32", [1, 4], None), ("INPUT1", "FP32", [1, 4], None)], raw=[_f32, _f32[:8]]), grpc.StatusCode.INVALID_ARGUMENT, "binary data has 8 bytes"),
    ("FP16 as typed contents", _req(model="identity_fp16", inputs=[("INPUT0", "FP16", [1, 3], [1.0, 2.0, 3.0])]), grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents"),
    ("missing input", _req(inputs=[("INPUT0", "FP32", [1, 4], ROW)]), grpc.StatusCode.INVALID_ARGUMENT, "'INPUT1' is missing"),
    ("unknown output", _req(outputs=["NOPE"]), grpc.StatusCode.INVALID_ARGUMENT, "output 'NOPE'"),
    ("output asked for twice", _req(outputs=["OUTPUT1", "OUTPUT1"]), grpc.StatusCode.INVALID_ARGUMENT, "'OUTPUT1' is asked for more than once"),
    ("parameter with no value", _unset, grpc.StatusCode.INVALID_ARGUMENT, "parameter 'p' has no value"),
    ("oversized message", _req(inputs=[("INPUT0", "FP32", [1, 4], None), ("INPUT1", "FP32", [1, 4], None)], raw=[b"\0" * (2 << 20), _f32]), grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "request_msg", "code", "words"), GRPC_CASES, ids=[c[0] for c in GRPC_CASES]
)
def test_grpc_bad_input_gets_matching_status(
    onnx_server: RunningServer, case: str, request_msg: Any, code: grpc.StatusCode, words: str
) -> None:
    with grpc.insecure_channel(onnx_server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.ModelInfer(request_msg, timeout=10)
    assert caught.value.code() == code
    assert words in (caught.value.details() or "")


def test_server_still_serves_after_bad_inputs(onnx_server: RunningServer) -> None:
    response = httpx.post(onnx_server.url + INFER, content=_doc(*GOOD), timeout=10)
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == [2.0, 4.0, 6.0, 8.0]
    with grpc.insecure_channel(onnx_server.grpc_target) as channel:
        reply = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(_req(), timeout=10)
    assert np.frombuffer(reply.raw_output_contents[0], np.float32).tolist() == [2.0, 4.0, 6.0, 8.0]


def test_grpc_metadata_and_repository_errors(onnx_server: RunningServer) -> None:
    with grpc.insecure_channel(onnx_server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        calls = [
            (stub.ModelMetadata, pb.ModelMetadataRequest(name="nope"), grpc.StatusCode.NOT_FOUND),
            (
                stub.ModelReady,
                pb.ModelReadyRequest(name="simple", version="9"),
                grpc.StatusCode.NOT_FOUND,
            ),
            (
                stub.RepositoryModelLoad,
                pb.RepositoryModelLoadRequest(model_name="../etc"),
                grpc.StatusCode.NOT_FOUND,
            ),
            (
                stub.RepositoryModelUnload,
                pb.RepositoryModelUnloadRequest(model_name="nope"),
                grpc.StatusCode.NOT_FOUND,
            ),
        ]
        codes = []
        for method, message, _ in calls:
            try:
                method(message, timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
    assert codes == [expected for _, _, expected in calls]
