"""The flows of Triton's example clients, written from tritonclient's API, over HTTP and gRPC.

Two models made here, as in Triton's examples: `simple` (ONNX, INT32 [-1, 16] in, sum and
difference out) and `simple_string` (a Python model: the same on numbers carried as strings).
Statistics and configuration have their own file (test_triton_extensions.py).
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.grpc.aio as tgrpc_aio
import tritonclient.http as thttp
import tritonclient.http.aio as thttp_aio
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_add_sub, python_model, write_model_yaml

STRING_MODEL = """
import numpy as np


class Model:
    def predict(self, inputs):
        a = inputs["INPUT0"].astype(np.bytes_).astype(np.int32)
        b = inputs["INPUT1"].astype(np.bytes_).astype(np.int32)
        as_text = np.vectorize(lambda v: str(v).encode(), otypes=[object])
        return {"OUTPUT0": as_text(a + b), "OUTPUT1": as_text(a - b)}
"""
ROW0 = np.arange(16, dtype=np.int32).reshape(1, 16)
ROW1 = np.ones((1, 16), dtype=np.int32)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("repo")
    onnx_add_sub(root / "simple" / "model.onnx", "INT32", 16)
    python_model(root / "simple_string", STRING_MODEL)
    tensors = [{"name": f"INPUT{i}", "datatype": "BYTES", "shape": [-1, 16]} for i in (0, 1)]
    outputs = [{"name": f"OUTPUT{i}", "datatype": "BYTES", "shape": [-1, 16]} for i in (0, 1)]
    write_model_yaml(root / "simple_string", backend="python", inputs=tensors, outputs=outputs)
    with server_in_thread(model_repository=root) as running:
        yield running


def _inputs(module: Any, a: np.ndarray, b: np.ndarray, binary: bool | None = None) -> list[Any]:
    out = []
    for name, array in (("INPUT0", a), ("INPUT1", b)):
        tensor = module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        if binary is None:
            tensor.set_data_from_numpy(array)
        else:
            tensor.set_data_from_numpy(array, binary_data=binary)
        out.append(tensor)
    return out


def _check_sum_difference(result: Any) -> None:
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), ROW0 + ROW1)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), ROW0 - ROW1)


def test_health_and_metadata(server: RunningServer) -> None:
    http = thttp.InferenceServerClient(server.http_target)
    grpc = tgrpc.InferenceServerClient(server.grpc_target)
    for client in (http, grpc):
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("simple")
        assert client.is_model_ready("simple", "1")
    assert not http.is_model_ready("simple", "2")
    assert http.get_server_metadata()["name"] == "modelplane"
    meta = http.get_model_metadata("simple")
    assert [(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]] == [
        ("INPUT0", "INT32", [-1, 16]),
        ("INPUT1", "INT32", [-1, 16]),
    ]
    grpc_meta = grpc.get_model_metadata("simple_string")
    assert [t.datatype for t in grpc_meta.outputs] == ["BYTES", "BYTES"]
    assert grpc.get_server_metadata(as_json=True)["name"] == "modelplane"


@pytest.mark.parametrize("binary", [False, True])
def test_http_infer_with_requested_outputs(server: RunningServer, binary: bool) -> None:
    client = thttp.InferenceServerClient(server.http_target)
    outputs = [
        thttp.InferRequestedOutput("OUTPUT0", binary_data=binary),
        thttp.InferRequestedOutput("OUTPUT1", binary_data=not binary),
    ]
    result = client.infer("simple", _inputs(thttp, ROW0, ROW1, binary), outputs=outputs)
    _check_sum_difference(result)
    assert result.get_response()["model_name"] == "simple"


def test_grpc_infer_with_requested_outputs(server: RunningServer) -> None:
    client = tgrpc.InferenceServerClient(server.grpc_target)
    outputs = [tgrpc.InferRequestedOutput("OUTPUT1")]
    result = client.infer("simple", _inputs(tgrpc, ROW0, ROW1), outputs=outputs, request_id="7")
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), ROW0 - ROW1)
    assert result.as_numpy("OUTPUT0") is None
    assert result.get_response().id == "7"


def test_http_async_infer(server: RunningServer) -> None:
    client = thttp.InferenceServerClient(server.http_target, concurrency=4)
    pending = [client.async_infer("simple", _inputs(thttp, ROW0, ROW1)) for _ in range(8)]
    for request in pending:
        _check_sum_difference(request.get_result(timeout=30))
    client.close()


def test_grpc_async_infer_with_a_callback(server: RunningServer) -> None:
    client = tgrpc.InferenceServerClient(server.grpc_target)
    done: queue.Queue[tuple[Any, Any]] = queue.Queue()

    def callback(results: queue.Queue[tuple[Any, Any]], result: Any, error: Any) -> None:
        results.put((result, error))

    for _ in range(8):
        client.async_infer("simple", _inputs(tgrpc, ROW0, ROW1), partial(callback, done))
    for _ in range(8):
        result, error = done.get(timeout=30)
        assert error is None
        _check_sum_difference(result)


def test_aio_clients(server: RunningServer) -> None:
    async def run() -> None:
        http = thttp_aio.InferenceServerClient(server.http_target)
        grpc = tgrpc_aio.InferenceServerClient(server.grpc_target)
        try:
            assert await http.is_server_ready() and await grpc.is_server_ready()
            results = await asyncio.gather(
                *(http.infer("simple", _inputs(thttp_aio, ROW0, ROW1)) for _ in range(4)),
                *(grpc.infer("simple", _inputs(tgrpc_aio, ROW0, ROW1)) for _ in range(4)),
            )
            for result in results:
                _check_sum_difference(result)
            assert (await grpc.get_model_metadata("simple")).name == "simple"
        finally:
            await http.close()
            await grpc.close()

    asyncio.run(run())


@pytest.mark.parametrize("transport", ["http-json", "http-binary", "grpc"])
def test_strings(server: RunningServer, transport: str) -> None:
    a = np.array([[str(i).encode() for i in range(16)]], dtype=np.object_)
    b = np.array([[b"1"] * 16], dtype=np.object_)
    if transport == "grpc":
        client: Any = tgrpc.InferenceServerClient(server.grpc_target)
        result = client.infer("simple_string", _inputs(tgrpc, a, b))
    else:
        client = thttp.InferenceServerClient(server.http_target)
        binary = transport == "http-binary"
        result = client.infer("simple_string", _inputs(thttp, a, b, binary))
    assert [int(x) for x in result.as_numpy("OUTPUT0").reshape(-1)] == [i + 1 for i in range(16)]
    assert [int(x) for x in result.as_numpy("OUTPUT1").reshape(-1)] == [i - 1 for i in range(16)]


def test_explicit_typed_contents_over_grpc(server: RunningServer) -> None:
    """A request built field by field with tritonclient's own protobuf stubs, no raw bytes."""
    import grpc

    request = service_pb2.ModelInferRequest(model_name="simple", id="typed")
    for name, row in (("INPUT0", ROW0), ("INPUT1", ROW1)):
        tensor = request.inputs.add(name=name, datatype="INT32", shape=[1, 16])
        tensor.contents.int_contents.extend(int(v) for v in row.reshape(-1))
    request.outputs.add(name="OUTPUT0")
    with grpc.insecure_channel(server.grpc_target) as channel:
        reply = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=10)
    assert reply.id == "typed"
    assert [o.name for o in reply.outputs] == ["OUTPUT0"]
    got = np.frombuffer(reply.raw_output_contents[0], dtype=np.int32)
    np.testing.assert_array_equal(got, (ROW0 + ROW1).reshape(-1))


def test_grpc_keepalive_options(server: RunningServer) -> None:
    options = tgrpc.KeepAliveOptions(
        keepalive_time_ms=2**31 - 1,
        keepalive_timeout_ms=20000,
        keepalive_permit_without_calls=False,
        http2_max_pings_without_data=2,
    )
    client = tgrpc.InferenceServerClient(server.grpc_target, keepalive_options=options)
    for _ in range(3):
        _check_sum_difference(client.infer("simple", _inputs(tgrpc, ROW0, ROW1)))


def test_grpc_custom_channel_args(server: RunningServer) -> None:
    args = [
        ("grpc.max_send_message_length", 1 << 20),
        ("grpc.max_receive_message_length", 1 << 20),
        ("grpc.primary_user_agent", "triton-flow-test"),
        ("grpc.lb_policy_name", "pick_first"),
    ]
    client = tgrpc.InferenceServerClient(server.grpc_target, channel_args=args)
    _check_sum_difference(client.infer("simple", _inputs(tgrpc, ROW0, ROW1)))
    tiny = tgrpc.InferenceServerClient(
        server.grpc_target, channel_args=[("grpc.max_receive_message_length", 16)]
    )
    with pytest.raises(InferenceServerException, match=r"RESOURCE_EXHAUSTED|larger than max"):
        tiny.infer("simple", _inputs(tgrpc, ROW0, ROW1))  # the answer exceeds what it accepts


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_model_control(server: RunningServer, transport: str) -> None:
    if transport == "http":
        client: Any = thttp.InferenceServerClient(server.http_target)
        index = client.get_model_repository_index()
        states = {m["name"]: m["state"] for m in index}
    else:
        client = tgrpc.InferenceServerClient(server.grpc_target)
        index = client.get_model_repository_index(as_json=True)["models"]
        states = {m["name"]: m["state"] for m in index}
    assert states == {"simple": "READY", "simple_string": "READY"}
    module: Any = thttp if transport == "http" else tgrpc
    client.unload_model("simple_string")
    assert not client.is_model_ready("simple_string")
    with pytest.raises(InferenceServerException):
        words = np.array([[b"1"] * 16], dtype=np.object_)
        client.infer("simple_string", _inputs(module, words, words))
    client.load_model("simple_string")
    assert client.is_model_ready("simple_string")
    with pytest.raises(InferenceServerException, match="nope"):
        client.load_model("nope")
