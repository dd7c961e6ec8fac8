"""tritonclient (HTTP JSON, HTTP binary, gRPC) against the server: results equal onnxruntime's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import ml_dtypes
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp

from tests.component.model_server.conftest import ALL_DATATYPES
from tests.support.model_server import RunningServer


def _direct(repo: Path, model: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(
        str(repo / model / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def _sample(datatype: str, rows: int = 2, width: int = 3) -> np.ndarray:
    rng = np.random.default_rng(7)
    if datatype == "BYTES":
        words = np.array([f"w{i}-é".encode() for i in range(rows * width)], dtype=np.object_)
        return words.reshape(rows, width)
    if datatype == "BOOL":
        return rng.integers(0, 2, (rows, width)).astype(bool)
    if datatype == "BF16":
        return rng.standard_normal((rows, width)).astype(ml_dtypes.bfloat16)
    dtype = np.dtype(
        {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64}.get(datatype, datatype.lower())
    )
    if dtype.kind == "f":
        return rng.standard_normal((rows, width)).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), (rows, width)).astype(dtype)


def _http_infer(
    server: RunningServer, model: str, inputs: dict[str, tuple[str, np.ndarray]], binary: bool
) -> Any:
    client = thttp.InferenceServerClient(server.http_target)
    wrapped = []
    for name, (datatype, array) in inputs.items():
        tensor = thttp.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        wrapped.append(tensor)
    return client.infer(model, wrapped, outputs=None, request_id="req-1")


def _grpc_infer(
    server: RunningServer, model: str, inputs: dict[str, tuple[str, np.ndarray]]
) -> Any:
    client = tgrpc.InferenceServerClient(server.grpc_target)
    wrapped = []
    for name, (datatype, array) in inputs.items():
        tensor = tgrpc.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        wrapped.append(tensor)
    return client.infer(model, wrapped, request_id="req-1")


@pytest.mark.parametrize("transport", ["http-json", "http-binary", "grpc"])
def test_add_sub_matches_onnxruntime(
    onnx_server: RunningServer, onnx_repository: Path, transport: str
) -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.full((3, 4), 0.5, dtype=np.float32)
    inputs = {"INPUT0": ("FP32", a), "INPUT1": ("FP32", b)}
    if transport == "grpc":
        result = _grpc_infer(onnx_server, "simple", inputs)
    else:
        result = _http_infer(onnx_server, "simple", inputs, binary=transport == "http-binary")
    expected = _direct(onnx_repository, "simple", {"INPUT0": a, "INPUT1": b})
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), expected["OUTPUT0"])
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), expected["OUTPUT1"])
    response = result.get_response()
    assert (response.id if transport == "grpc" else response["id"]) == "req-1"


def test_linear_layer_matches_onnxruntime(
    onnx_server: RunningServer, onnx_repository: Path
) -> None:
    x = np.random.default_rng(1).standard_normal((5, 8)).astype(np.float32)
    result = _http_infer(onnx_server, "linear", {"x": ("FP32", x)}, binary=True)
    np.testing.assert_allclose(
        result.as_numpy("y"), _direct(onnx_repository, "linear", {"x": x})["y"]
    )


@pytest.mark.parametrize("datatype", ALL_DATATYPES)
@pytest.mark.parametrize("transport", ["http-json", "http-binary", "grpc"])
def test_every_datatype_round_trips(
    onnx_server: RunningServer, datatype: str, transport: str
) -> None:
    if transport == "http-json" and datatype == "BF16":
        pytest.skip("tritonclient sends BF16 over HTTP only as binary data")
    array = _sample(datatype)
    model = f"identity_{datatype.lower()}"
    if transport == "grpc":
        result = _grpc_infer(onnx_server, model, {"INPUT0": (datatype, array)})
    else:
        result = _http_infer(
            onnx_server, model, {"INPUT0": (datatype, array)}, transport == "http-binary"
        )
    got = result.as_numpy("OUTPUT0")
    assert got.shape == array.shape
    if datatype == "BYTES":
        assert [bytes(x) for x in got.reshape(-1)] == list(array.reshape(-1))
    else:
        assert got.dtype == array.dtype
        np.testing.assert_array_equal(got, array)


def test_binary_outputs_only_where_asked(onnx_server: RunningServer) -> None:
    client = thttp.InferenceServerClient(onnx_server.http_target)
    a = np.ones((1, 4), np.float32)
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = thttp.InferInput(name, [1, 4], "FP32")
        tensor.set_data_from_numpy(a, binary_data=True)
        inputs.append(tensor)
    outputs = [
        thttp.InferRequestedOutput("OUTPUT0", binary_data=True),
        thttp.InferRequestedOutput("OUTPUT1", binary_data=False),
    ]
    result = client.infer("simple", inputs, outputs=outputs)
    by_name = {o["name"]: o for o in result.get_response()["outputs"]}
    assert by_name["OUTPUT0"]["parameters"]["binary_data_size"] == 16
    assert by_name["OUTPUT1"]["data"] == [0.0] * 4
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), 2 * a)


def test_metadata_over_both_transports(onnx_server: RunningServer) -> None:
    http = thttp.InferenceServerClient(onnx_server.http_target)
    grpc = tgrpc.InferenceServerClient(onnx_server.grpc_target)
    meta = http.get_model_metadata("simple")
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"][0] == {"name": "INPUT0", "datatype": "FP32", "shape": [-1, 4]}
    gmeta = grpc.get_model_metadata("simple", as_json=True)
    assert gmeta["inputs"][0]["shape"] == ["-1", "4"]
    assert (
        http.get_server_metadata()["extensions"]
        == grpc.get_server_metadata(as_json=True)["extensions"]
    )
    assert http.is_server_live() and grpc.is_server_live()
    assert http.is_server_ready() and grpc.is_server_ready()
    assert http.is_model_ready("simple") and grpc.is_model_ready("simple")
    assert http.is_model_ready("simple", "1") and not http.is_model_ready("simple", "7")


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_compressed_requests_and_responses(onnx_server: RunningServer, algorithm: str) -> None:
    assert onnx_server.server is not None
    onnx_server.server.app.compress_responses = True  # as --response-compression does
    client = thttp.InferenceServerClient(onnx_server.http_target)
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = thttp.InferInput(name, [2, 4], "FP32")
        tensor.set_data_from_numpy(a, binary_data=True)
        inputs.append(tensor)
    result = client.infer(
        "simple",
        inputs,
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    onnx_server.server.app.compress_responses = False
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), 2 * a)


def test_responses_are_not_compressed_unless_enabled(onnx_server: RunningServer) -> None:
    body = {"inputs": [{"name": "x", "shape": [1, 8], "datatype": "FP32", "data": [0.0] * 8}]}
    response = httpx.post(
        f"{onnx_server.url}/v2/models/linear/infer",
        json=body,
        headers={"Accept-Encoding": "gzip, deflate"},
        timeout=10,
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers


def test_parameters_pass_through(onnx_server: RunningServer) -> None:
    a = np.ones((1, 4), np.float32)
    http = thttp.InferenceServerClient(onnx_server.http_target)
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = thttp.InferInput(name, [1, 4], "FP32")
        tensor.set_data_from_numpy(a)
        inputs.append(tensor)
    result = http.infer("simple", inputs, parameters={"trace": "abc", "level": 3})
    assert result.get_response()["parameters"] == {"trace": "abc", "level": 3}
    grpc = tgrpc.InferenceServerClient(onnx_server.grpc_target)
    ginputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = tgrpc.InferInput(name, [1, 4], "FP32")
        tensor.set_data_from_numpy(a)
        ginputs.append(tensor)
    reply = grpc.infer("simple", ginputs, parameters={"trace": "abc", "level": 3}).get_response()
    assert reply.parameters["trace"].string_param == "abc"
    assert reply.parameters["level"].int64_param == 3

    # a uint64 parameter (past int64) comes back as one: its answer was an INTERNAL error
    import grpc as grpcio

    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb
    from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    request = pb.ModelInferRequest(model_name="simple")
    for name in ("INPUT0", "INPUT1"):
        request.inputs.add(name=name, datatype="FP32", shape=[1, 4])
        request.raw_input_contents.append(a.tobytes())
    request.parameters["big"].uint64_param = 2**64 - 1
    with grpcio.insecure_channel(onnx_server.grpc_target) as channel:
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request)
    assert answer.parameters["big"].uint64_param == 2**64 - 1


@pytest.mark.parametrize("datatype", ["FP16", "FP32", "FP64"])
def test_non_finite_floats_round_trip_in_json_as_tokens(
    onnx_server: RunningServer, datatype: str
) -> None:
    dtype = np.dtype(datatype.replace("FP", "float"))
    array = np.array([[np.nan, np.inf, -np.inf]], dtype=dtype)
    result = _http_infer(
        onnx_server, f"identity_{datatype.lower()}", {"INPUT0": (datatype, array)}, binary=False
    )
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), array)  # NaN equals NaN here
    raw = b'{"inputs":[{"name":"INPUT0","shape":[1,3],"datatype":"%s","data":[NaN,-Infinity,2]}]}'
    response = httpx.post(
        f"{onnx_server.url}/v2/models/identity_{datatype.lower()}/infer",
        content=raw % datatype.encode(),
    )
    assert response.status_code == 200, response.text
    assert b'"data":[NaN,-Infinity,2.0]' in response.content
