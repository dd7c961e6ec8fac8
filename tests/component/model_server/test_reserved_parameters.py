"""Triton's classification extension and reserved request parameters over real sockets, called
by tritonclient as a user calls Triton: classes equal the top of the plain answer; a request's
`timeout` bounds it; priorities and sequences, which this server has not, are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

from tests.support.model_server import RunningServer, server_in_thread
from tests.support.models import onnx_identity, onnx_matmul, python_model, write_model_yaml

SLEEPER = """
    import time

    import numpy as np


    class Model:
        def predict(self, inputs):
            time.sleep(float(inputs["seconds"][0]))
            return {"slept": np.array([1.0], np.float32)}
"""
TRANSPORTS = ["http-json", "http-binary", "grpc"]
LABELS = ["cat", "dog", "bird", "fish", "frog"]  # the sixth class has none
X = np.random.default_rng(3).standard_normal((3, 8)).astype(np.float32)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """scores (8 -> 6, batching), flat (the same, not batching), labelled (scores with labels
    for five of its six classes), relabel (scores, with a labels file but no model.yaml),
    counts (INT32 identity), half (FP16 identity), sleeper (python)."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("scores", "flat", "labelled", "relabel"):
        onnx_matmul(root / name / "model.onnx", in_features=8, out_features=6, seed=5)
    write_model_yaml(root / "scores", max_batch_size=8)
    (root / "labelled" / "classes.txt").write_text("".join(f"{c}\n" for c in LABELS))
    (root / "relabel" / "names.txt").write_text("".join(f"{c}\n" for c in LABELS))
    labelled = {"name": "y", "datatype": "FP32", "shape": [-1, 6], "labels": "classes.txt"}
    write_model_yaml(root / "labelled", max_batch_size=8, outputs=[labelled])
    onnx_identity(root / "counts" / "model.onnx", "INT32", width=5)
    onnx_identity(root / "half" / "model.onnx", "FP16")
    python_model(root / "sleeper", SLEEPER)
    with server_in_thread(model_repository=root) as running:
        yield running


def _infer(
    server: RunningServer,
    transport: str,
    model: str,
    inputs: dict[str, tuple[str, np.ndarray]],
    output: str,
    class_count: int = 0,
    **options: Any,
) -> np.ndarray:
    grpc = transport == "grpc"
    module: Any = tgrpc if grpc else thttp
    client = module.InferenceServerClient(server.grpc_target if grpc else server.http_target)
    binary = {} if grpc else {"binary_data": transport == "http-binary"}
    wrapped = []
    for name, (datatype, array) in inputs.items():
        tensor = module.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, **binary)
        wrapped.append(tensor)
    asked = module.InferRequestedOutput(output, class_count=class_count, **binary)
    result = client.infer(model, wrapped, outputs=[asked], **options)
    answer: np.ndarray = result.as_numpy(output)
    return answer


def _top(values: np.ndarray, count: int) -> list[str]:
    """The classes computed here from a plain answer: highest first, ties by index."""
    flat = values.reshape(-1)
    order = np.argsort(-flat.astype(np.float64), kind="stable")[:count]
    if flat.dtype.kind == "f":
        return [f"{float(flat[i]):f}:{i}" for i in order]
    return [f"{int(flat[i])}:{i}" for i in order]


def _texts(array: np.ndarray) -> list[str]:
    """BYTES elements as text (tritonclient gives bytes from binary data, str from JSON)."""
    return [b.decode() if isinstance(b, bytes) else str(b) for b in array.reshape(-1)]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_batching_model_answers_the_top_classes_of_each_batch_entry(
    server: RunningServer, transport: str
) -> None:
    inputs = {"x": ("FP32", X)}
    plain = _infer(server, transport, "scores", inputs, "y")
    classes = _infer(server, transport, "scores", inputs, "y", class_count=3)
    assert classes.shape == (3, 3)
    assert [_texts(row) for row in classes] == [_top(row, 3) for row in plain]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_model_that_does_not_batch_answers_one_list(
    server: RunningServer, transport: str
) -> None:
    inputs = {"x": ("FP32", X)}
    plain = _infer(server, transport, "flat", inputs, "y")
    classes = _infer(server, transport, "flat", inputs, "y", class_count=4)
    assert classes.shape == (4,)
    assert _texts(classes) == _top(plain, 4)


def _labelled(classes: list[str]) -> list[str]:
    """Classes "<value>:<index>" with the label of their index, where there is one."""
    out = []
    for text in classes:
        index = int(text.split(":")[1])
        out.append(f"{text}:{LABELS[index]}" if index < len(LABELS) else text)
    return out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_label_follows_each_index_that_has_one(server: RunningServer, transport: str) -> None:
    inputs = {"x": ("FP32", X)}
    plain = _infer(server, transport, "labelled", inputs, "y")
    classes = _infer(server, transport, "labelled", inputs, "y", class_count=6)
    assert [_texts(row) for row in classes] == [_labelled(_top(row, 6)) for row in plain]
    assert any(text.count(":") == 1 for text in _texts(classes))  # the unlabelled sixth


def test_tritons_label_filename_given_on_load_labels_the_classes(server: RunningServer) -> None:
    http = thttp.InferenceServerClient(server.http_target)
    grpc = tgrpc.InferenceServerClient(server.grpc_target)
    output = {"name": "y", "data_type": "TYPE_FP32", "dims": [6]}
    config = {"max_batch_size": 8, "output": [{**output, "label_filename": "names.txt"}]}
    http.load_model("relabel", config=json.dumps(config))
    assert (
        grpc.get_model_config("relabel", as_json=True)["config"]["output"][0]["label_filename"]
        == "names.txt"
    )
    assert http.get_model_config("relabel")["output"][0]["label_filename"] == "names.txt"
    plain = _infer(server, "grpc", "relabel", {"x": ("FP32", X)}, "y")
    classes = _infer(server, "grpc", "relabel", {"x": ("FP32", X)}, "y", class_count=2)
    assert [_texts(row) for row in classes] == [_labelled(_top(row, 2)) for row in plain]
    missing = {"max_batch_size": 8, "output": [{**output, "label_filename": "gone.txt"}]}
    with pytest.raises(InferenceServerException) as caught:
        http.load_model("relabel", config=json.dumps(missing))
    assert "output 'y': labels file 'gone.txt' in the model's directory cannot be read" in (
        caught.value.message()
    )
    again = _infer(server, "grpc", "relabel", {"x": ("FP32", X)}, "y", class_count=2)
    assert again.tolist() == classes.tolist()  # the load before keeps serving


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_integer_outputs_are_classified_and_the_count_is_clamped(
    server: RunningServer, transport: str
) -> None:
    counts = np.array([[4, -2, 9, 9, 0]], np.int32)
    classes = _infer(server, transport, "counts", {"INPUT0": ("INT32", counts)}, "OUTPUT0", 10)
    assert _texts(classes) == ["9:2", "9:3", "4:0", "0:4", "-2:1"]


@pytest.mark.parametrize("transport", ["http-binary", "grpc"])
def test_an_output_without_a_plain_order_is_refused(server: RunningServer, transport: str) -> None:
    half = np.ones((1, 3), np.float16)
    with pytest.raises(InferenceServerException) as caught:
        _infer(server, transport, "half", {"INPUT0": ("FP16", half)}, "OUTPUT0", class_count=1)
    assert "output 'OUTPUT0': cannot classify a FP16 output" in caught.value.message()
    assert caught.value.status() in ("400", "StatusCode.INVALID_ARGUMENT")


@pytest.mark.parametrize("transport", ["http-json", "grpc"])
@pytest.mark.parametrize(
    ("options", "refused"),
    [
        ({"priority": 2}, "parameters.priority: this server has no priority levels"),
        ({"sequence_id": 7, "sequence_start": True}, "this server has no sequence batching"),
    ],
)
def test_priorities_and_sequences_are_refused(
    server: RunningServer, transport: str, options: dict[str, Any], refused: str
) -> None:
    with pytest.raises(InferenceServerException) as caught:
        _infer(server, transport, "scores", {"x": ("FP32", X)}, "y", **options)
    assert refused in caught.value.message()
    assert caught.value.status() in ("400", "StatusCode.INVALID_ARGUMENT")


@pytest.mark.parametrize("transport", ["http-json", "grpc"])
def test_a_request_timeout_bounds_the_request(server: RunningServer, transport: str) -> None:
    slow = {"seconds": ("FP32", np.array([1.0], np.float32))}
    with pytest.raises(InferenceServerException) as caught:
        _infer(server, transport, "sleeper", slow, "slept", timeout=100_000)  # 0.1 s
    assert caught.value.status() in ("504", "StatusCode.DEADLINE_EXCEEDED")
    assert "within 0.1 s (the request's timeout parameter)" in caught.value.message()
    quick = {"seconds": ("FP32", np.array([0.0], np.float32))}
    answer = _infer(server, transport, "sleeper", quick, "slept", timeout=5_000_000)
    assert answer.tolist() == [1.0]


def test_the_server_says_it_classifies(server: RunningServer) -> None:
    http = thttp.InferenceServerClient(server.http_target).get_server_metadata()
    grpc = tgrpc.InferenceServerClient(server.grpc_target).get_server_metadata(as_json=True)
    assert "classification" in http["extensions"]
    assert http["extensions"] == grpc["extensions"]


@pytest.mark.parametrize("protocol", [thttp, tgrpc], ids=["http", "grpc"])
def test_tensors_in_shared_memory_are_refused_not_read_from_nowhere(
    server: RunningServer, protocol: Any
) -> None:
    """tritonclient's set_shared_memory on an input or an output: before, the input was
    refused for having no data (which it had, in the region) and the output was answered
    inline with the region echoed, so a client read its region's stale bytes."""
    target = server.http_target if protocol is thttp else server.grpc_target
    client = protocol.InferenceServerClient(target)
    in_region = protocol.InferInput("INPUT0", [1, 3], "FP16")
    in_region.set_shared_memory("in", 6)
    with pytest.raises(InferenceServerException) as refused_input:
        client.infer("half", [in_region])
    plain = protocol.InferInput("INPUT0", [1, 3], "FP16")
    plain.set_data_from_numpy(np.ones((1, 3), np.float16))
    out_region = protocol.InferRequestedOutput("OUTPUT0")
    out_region.set_shared_memory("out", 6)
    with pytest.raises(InferenceServerException) as refused_output:
        client.infer("half", [plain], outputs=[out_region])
    assert "input 'INPUT0': parameters.shared_memory_region: this server has no shared memory" in (
        refused_input.value.message()
    )
    assert "output 'OUTPUT0': parameters.shared_memory_region" in refused_output.value.message()
    for caught in (refused_input, refused_output):
        assert caught.value.status() in ("400", "StatusCode.INVALID_ARGUMENT")
    assert client.infer("half", [plain]).as_numpy("OUTPUT0").tolist() == [[1.0, 1.0, 1.0]]
