"""Randomly broken requests to a model server, REST (JSON, binary, gzip) and gRPC (odd raw
contents, datatypes, shapes, parameters of every kind): each is a 4xx naming what is wrong,
or an answer; never a 5xx or INTERNAL. Seeded, so a failure repeats. (It would have found
the gRPC answer echoing a uint64 parameter, which was INTERNAL.)"""

from __future__ import annotations

import gzip
import json
import random
from typing import Any

import httpx
import pytest

from tests.support.broken import broken, in_binary
from tests.support.model_server import RunningServer

REQUESTS = {
    "linear": {
        "id": "r1",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 8], "data": [0.5] * 8}],
        "outputs": [{"name": "y"}],
    },
    "identity_int32": {
        "inputs": [{"name": "INPUT0", "datatype": "INT32", "shape": [1, 3], "data": [1, 2, 3]}],
        "parameters": {"binary_data_output": True},
    },
    "identity_bytes": {
        "inputs": [
            {"name": "INPUT0", "datatype": "BYTES", "shape": [1, 3], "data": ["a", "bc", ""]}
        ],
    },
    "identity_fp16": {
        "inputs": [
            {"name": "INPUT0", "datatype": "FP16", "shape": [1, 3], "data": [1.0, 2.0, 3.0]}
        ],
    },
}


def _message(model: str, rng: random.Random) -> Any:
    """The model's request as a gRPC message (its data raw), then zero to two things broken,
    and a parameter of a random kind."""
    from modelplane.v2grpc.generated import grpc_predict_v2_pb2 as pb

    given = REQUESTS[model]["inputs"][0]
    message = pb.ModelInferRequest(model_name=model)
    tensor = message.inputs.add(name=given["name"], datatype=given["datatype"])
    tensor.shape.extend(given["shape"])
    message.raw_input_contents.append(_raw(given))
    for _ in range(rng.choice((0, 0, 1, 2))):
        broke = rng.choice(("model", "name", "datatype", "shape", "raw", "typed"))
        if broke == "model":
            message.model_name = rng.choice(("", "nope"))
        elif broke == "name":
            tensor.name = rng.choice(("", "y"))
        elif broke == "datatype":
            tensor.datatype = rng.choice(("FP32", "INT32", "BYTES", "BF16", "", "FP8"))
        elif broke == "shape":
            del tensor.shape[:]
            tensor.shape.extend(rng.choice(([1, 8], [3], [-1, 3], [0], [1, 2**40])))
        elif broke == "raw":
            message.raw_input_contents[0] = message.raw_input_contents[0][: rng.choice((0, 3, 5))]
        else:
            tensor.contents.int_contents.extend([1, 2, 3])
    slot = message.parameters[rng.choice(("p", "p", "timeout", "priority", "binary_data_output"))]
    kind = rng.choice(("bool", "int64", "uint64", "double", "string", None))
    if kind is not None:
        value = {"bool": True, "int64": -(2**63), "uint64": 2**64 - 1, "double": 0.5}
        setattr(slot, f"{kind}_param", value.get(kind, "soon"))
    if rng.random() < 0.3:
        message.outputs.add(name=rng.choice(("OUTPUT0", "y", "nope")))
    return message


def _raw(tensor: dict[str, Any]) -> bytes:
    """A tensor's JSON data as the raw bytes gRPC carries."""
    import numpy as np

    if tensor["datatype"] == "BYTES":
        return b"".join(len(s).to_bytes(4, "little") + s.encode() for s in tensor["data"])
    dtype = {"FP32": "<f4", "INT32": "<i4", "FP16": "<f2"}[tensor["datatype"]]
    return np.asarray(tensor["data"], dtype=dtype).tobytes()


@pytest.mark.parametrize("model", sorted(REQUESTS))
def test_broken_requests_are_4xx_never_5xx(onnx_server: RunningServer, model: str) -> None:
    import grpc

    from modelplane.v2grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    rng = random.Random(model)
    path = f"/v2/models/{model}/infer"
    failures, statuses = [], set()
    with httpx.Client(base_url=onnx_server.url, timeout=30) as client:
        assert client.post(path, json=REQUESTS[model]).status_code == 200
        for _ in range(120):
            roll = rng.random()
            document = broken(REQUESTS[model], rng)
            if roll < 0.3:
                body, headers = in_binary(document, rng)
            elif roll < 0.4:
                body, headers = gzip.compress(json.dumps(document).encode()), {"content-encoding": "gzip"}  # fmt: skip
            else:
                body, headers = json.dumps(document).encode(), {"content-type": "application/json"}
            r = client.post(path, content=body, headers=headers)
            statuses.add(r.status_code)
            if r.status_code >= 500:
                failures.append((r.status_code, r.text[:200], body[:200]))
    with grpc.insecure_channel(onnx_server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(60):
            message = _message(model, rng)
            try:
                stub.ModelInfer(message, timeout=30)
            except grpc.RpcError as exc:
                if exc.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                    failures.append((exc.code(), exc.details()[:200], str(message)[:300]))
    assert failures == []
    assert {200, 400} <= statuses
