"""V2 tensors between JSON, the binary extension and gRPC messages: raw bytes stay raw."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from modelplane.router import tensors
from modelplane.router.answer import grpc_answer, output_forms, rest_answer
from modelplane.router.errors import ChainError, MalformedV2, NotV2
from modelplane.router.forms import ALL_BINARY, ALL_JSON, OutputForms
from modelplane.router.payload import Payload
from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb

Y = np.asarray([[1.5, -2.25, 3.0e-8]], dtype=np.float32)
LABELS = [b"cat", "\u00e9t\u00e9".encode()]


def response_message() -> pb.ModelInferResponse:
    msg = pb.ModelInferResponse(model_name="m", model_version="3", id="req-1")
    msg.outputs.add(name="y", datatype="FP32", shape=[1, 3])
    msg.outputs.add(name="label", datatype="BYTES", shape=[2])
    msg.raw_output_contents.append(Y.tobytes())
    msg.raw_output_contents.append(b"".join(len(s).to_bytes(4, "little") + s for s in LABELS))
    return msg


def test_a_grpc_answer_chains_as_a_grpc_request_with_the_same_bytes() -> None:
    v2 = tensors.from_message(response_message())
    request = tensors.to_message(tensors.response_to_request(v2, {"y": "x"}), "next")
    assert isinstance(request, pb.ModelInferRequest)
    assert request.model_name == "next" and request.id == "req-1"
    assert [(i.name, i.datatype, list(i.shape)) for i in request.inputs] == [("x", "FP32", [1, 3])]
    assert list(request.raw_input_contents) == [Y.tobytes()]


def test_a_grpc_answer_becomes_binary_rest_without_decoding_and_back() -> None:
    v2 = tensors.from_message(response_message())
    body, length = tensors.to_binary(v2)
    assert length is not None
    header = orjson.loads(body[:length])
    assert [o["parameters"]["binary_data_size"] for o in header["outputs"]] == [12, 4 + 3 + 4 + 5]
    assert "data" not in header["outputs"][0]
    again = tensors.from_document(header, body[length:])
    assert again is not None
    assert [t.raw for t in again.tensors] == list(response_message().raw_output_contents)


def test_json_view_decodes_every_datatype_it_can() -> None:
    document = tensors.to_document(tensors.from_message(response_message()))
    y, label = document["outputs"]
    assert np.asarray(y["data"], dtype=np.float32).tobytes() == Y.tobytes()
    assert label["data"] == ["cat", "\u00e9t\u00e9"]
    assert document["model_name"] == "m" and document["id"] == "req-1"


def test_json_data_encodes_to_the_raw_bytes_numpy_gives() -> None:
    request = {"inputs": [{"name": "x", "datatype": "INT16", "shape": [2, 2],
                           "data": [[1, -2], [300, 4]]}]}  # fmt: skip
    v2 = tensors.from_document(request)
    assert v2 is not None and v2.kind == "request"
    message = tensors.to_message(v2, "m")
    expected = np.asarray([[1, -2], [300, 4]], dtype="<i2").tobytes()
    assert list(message.raw_input_contents) == [expected]


def test_raw_floats_become_json_with_their_own_shortest_digits() -> None:
    """As the model server writes them, so one answer reads the same from a REST step and
    from a gRPC step (not 0.0780750960111618, a double's digits)."""
    values = np.asarray([0.078075096, 1 / 3, -2.5], dtype=np.float32)
    data = tensors.raw_to_data("FP32", values.tobytes(), "y")
    assert orjson.dumps(data) == b"[0.078075096,0.33333334,-2.5]"
    assert np.asarray(data, dtype=np.float32).tobytes() == values.tobytes()
    half = np.asarray([0.1, 65504.0], dtype=np.float16)
    assert np.asarray(tensors.raw_to_data("FP16", half.tobytes(), "h"), np.float16).tobytes() == (
        half.tobytes()
    )
    doubles = np.asarray([0.1], dtype=np.float64)
    assert tensors.raw_to_data("FP64", doubles.tobytes(), "d") == [0.1]


def test_bf16_is_json_float32_numbers_both_ways_rounded_as_ml_dtypes_rounds() -> None:
    import ml_dtypes

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.standard_normal(2000).astype(np.float32) * 100, [np.inf, -np.inf, 0.0, -0.0]]
    ).astype(np.float32)
    as_bf16 = values.astype(ml_dtypes.bfloat16)
    assert tensors.data_to_raw("BF16", values.tolist(), "b") == as_bf16.tobytes()
    data = tensors.raw_to_data("BF16", as_bf16.tobytes(), "b")
    assert np.asarray(data, np.float32).tobytes() == as_bf16.astype(np.float32).tobytes()
    nan = np.frombuffer(tensors.data_to_raw("BF16", [float("nan")], "b"), ml_dtypes.bfloat16)
    assert np.isnan(nan.astype(np.float32)).all()


def test_bytes_that_are_not_utf8_are_refused_as_json_not_replaced() -> None:
    raw = b"".join(len(b).to_bytes(4, "little") + b for b in (b"ok", b"\xff\xfe"))
    with pytest.raises(ChainError, match="'b' holds bytes that are not UTF-8"):
        tensors.raw_to_data("BYTES", raw, "b")


def test_bad_tensors_are_named() -> None:
    with pytest.raises(MalformedV2, match="'x': data is not INT8"):
        tensors.data_to_raw("INT8", ["a"], "x")
    with pytest.raises(MalformedV2, match=r"'x': data is not INT32: 1\.5 is not an integer"):
        tensors.data_to_raw("INT32", [1, 1.5], "x")  # not cut to 1
    with pytest.raises(MalformedV2, match="'x': data is not FP32: null is not a number"):
        tensors.data_to_raw("FP32", [1.0, None], "x")  # not NaN
    with pytest.raises(MalformedV2, match="'x': 'FLOAT' is not a V2 datatype"):
        tensors.data_to_raw("FLOAT", [1.0], "x")
    with pytest.raises(MalformedV2, match="'x' has no data"):
        tensors.data_to_raw("FP32", None, "x")
    with pytest.raises(MalformedV2, match="'b': BYTES data holds 5, not a string"):
        tensors.data_to_raw("BYTES", ["ok", 5], "b")  # not five zero bytes
    with pytest.raises(ChainError, match="'z': FP8 cannot be turned into JSON"):
        tensors.raw_to_data("FP8", b"\x00\x00", "z")
    header = {"outputs": [{"name": "y", "datatype": "FP32", "shape": [1],
                           "parameters": {"binary_data_size": 8}}]}  # fmt: skip
    left = r"outputs.0 \('y'\).parameters.binary_data_size must be a whole number of the 4 binary bytes left, not 8"  # fmt: skip
    with pytest.raises(ChainError, match=left):  # an answer that cannot be chained
        tensors.from_document(header, b"\x00" * 4)
    for size in (-1, True, 1.5, "4", 5):  # a client's request: its own mistake, a 400
        asked = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1],
                             "parameters": {"binary_data_size": size}}]}  # fmt: skip
        with pytest.raises(MalformedV2, match=rf"inputs.0 \('x'\).+, not {size!r}"):
            tensors.from_document(asked, b"\x00" * 4)
    v2 = tensors.from_message(response_message())
    with pytest.raises(ChainError, match="no output named q"):
        tensors.response_to_request(v2, {"q": "x"})


def test_answers_are_named_for_the_graph_in_every_form() -> None:
    steps = ["root/a", "root/b"]
    named = grpc_answer(Payload.of_message(response_message()), "g", steps)
    assert named.model_name == "g" and named.model_version == ""
    assert named.parameters["graph_steps"].string_param == "root/a,root/b"
    rest = rest_answer(Payload.of_message(response_message()), "g", steps, ALL_JSON)
    assert rest.json()["model_name"] == "g"
    assert rest.json()["parameters"] == {"graph_steps": "root/a,root/b"}
    binary = rest_answer(Payload.of_message(response_message()), "g", steps, ALL_BINARY)
    assert binary.header_length is not None
    assert binary.body[binary.header_length :].startswith(Y.tobytes())
    v1 = Payload.of({"predictions": [1, 2]})
    assert rest_answer(v1, "g", steps, ALL_JSON) is v1  # not V2: as it came
    with pytest.raises(NotV2):
        grpc_answer(v1, "g", steps)


def test_a_rest_client_asks_for_binary_by_its_body_its_parameter_or_an_output() -> None:
    assert output_forms(Payload(b"{}", header_length=2)) == OutputForms(True)
    on = {"inputs": [], "parameters": {"binary_data_output": True}}
    assert output_forms(Payload.of(on)) == OutputForms(True)
    assert output_forms(Payload.of({"inputs": []})) == OutputForms(False)
    asked = {"inputs": [], "outputs": [
        {"name": "a.y", "parameters": {"binary_data": True}},
        {"name": "b.y", "parameters": {"binary_data": False}},
        {"name": "c.y"}]}  # fmt: skip
    forms = output_forms(Payload.of(asked))
    assert forms.any_binary and forms.binary("a.y")
    assert not forms.binary("b.y") and not forms.binary("c.y")
    forms = output_forms(Payload.of({**asked, "parameters": {"binary_data_output": True}}))
    assert forms.binary("a.y") and not forms.binary("b.y") and forms.binary("c.y")


def test_raw_outputs_are_binary_only_where_the_client_asked() -> None:
    """A step's binary answer passes through when the client asked for its binary outputs so;
    one it asked for as JSON is decoded, the others stay raw (before, a client that asked
    for an output in binary by its own `binary_data` got JSON)."""
    steps = ["root/a"]
    raw = np.asarray([1.5, -2.25], dtype=np.float32).tobytes()
    two = tensors.V2("response", [
        tensors.Tensor("y", "FP32", [2], raw=raw),
        tensors.Tensor("z", "FP32", [2], raw=raw)])  # fmt: skip
    body, length = tensors.to_binary(two)
    answer = Payload(body, content_type=b"application/octet-stream", header_length=length)
    kept = rest_answer(answer, "g", steps, ALL_BINARY)
    assert kept.body[kept.header_length :] == raw * 2
    mixed = rest_answer(answer, "g", steps, OutputForms(False, {"y": True}))
    head = mixed.json()
    assert head["model_name"] == "g"
    assert [o.get("data") for o in head["outputs"]] == [None, [1.5, -2.25]]
    assert mixed.body[mixed.header_length :] == raw
    plain = rest_answer(answer, "g", steps, ALL_JSON)
    assert plain.header_length is None
    assert [o["data"] for o in plain.json()["outputs"]] == [[1.5, -2.25], [1.5, -2.25]]


def test_a_clients_message_is_read_exactly_or_refused() -> None:
    """Typed BYTES contents stay bytes (they were decoded with U+FFFD in place of what is not
    UTF-8); raw and typed contents for one tensor, or raw contents that are not one per
    tensor, are the client's 400 (the first was answered from the raw contents, the second a
    500)."""
    message = pb.ModelInferRequest(model_name="m")
    message.inputs.add(name="b", datatype="BYTES", shape=[2]).contents.bytes_contents.extend(
        [b"\xff\xfe", b"ok"]
    )
    v2 = tensors.from_message(message)
    assert v2.tensors[0].raw == struct.pack("<I", 2) + b"\xff\xfe" + struct.pack("<I", 2) + b"ok"
    both = pb.ModelInferRequest(model_name="m")
    both.inputs.add(name="x", datatype="INT32", shape=[1]).contents.int_contents.append(1)
    both.raw_input_contents.append(struct.pack("<i", 1))
    with pytest.raises(MalformedV2, match="'x' has typed contents and raw contents"):
        tensors.from_message(both)
    extra = pb.ModelInferRequest(model_name="m")
    extra.inputs.add(name="x", datatype="INT32", shape=[1])
    extra.raw_input_contents.extend([b"\0" * 4, b"\0" * 4])
    with pytest.raises(MalformedV2, match="2 raw contents for 1 tensors"):
        tensors.from_message(extra)


@pytest.mark.parametrize(
    ("datatype", "raw", "message"),
    [
        ("FP32", b"\0" * 7, "7 bytes are not a whole number of FP32 values"),
        ("BF16", b"\0" * 3, "3 bytes are not a whole number of BF16 values"),
        ("INT64", b"\0" * 4, "4 bytes are not a whole number of INT64 values"),
        ("BYTES", b"\x02\x00", "BYTES data ends inside an element's length"),
        ("BYTES", struct.pack("<I", 9) + b"abc", "a BYTES element of 9 bytes runs past"),
    ],
)
def test_raw_bytes_that_are_not_their_datatype_are_named(
    datatype: str, raw: bytes, message: str
) -> None:
    """An answer's raw bytes cannot be chained (ChainError); a request's are the client's
    400 (MalformedV2) where the router reads them: before, numpy's and struct's errors were
    a 500 "router error"."""
    with pytest.raises(ChainError, match=message):
        tensors.raw_to_data(datatype, raw, "x")
    request = tensors.V2("request", [tensors.Tensor("x", datatype, [1], raw=raw)])
    with pytest.raises(MalformedV2, match=message):
        tensors.to_document(request)
    answer = tensors.V2("response", [tensors.Tensor("x", datatype, [1], raw=raw)])
    with pytest.raises(ChainError, match=message):
        tensors.to_document(answer)
