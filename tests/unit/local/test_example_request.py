"""The printed example request matches the model's metadata, and its curl command parses back."""

from __future__ import annotations

import json
import shlex

from modelplane.local.example import curl, example_request

METADATA = {
    "name": "m",
    "inputs": [
        {"name": "features", "datatype": "FP32", "shape": [-1, 4]},
        {"name": "ids", "datatype": "INT64", "shape": [2]},
        {"name": "flags", "datatype": "BOOL", "shape": [-1]},
        {"name": "text", "datatype": "BYTES", "shape": [1]},
    ],
}


def test_dynamic_dimensions_become_one_and_data_fills_the_shape() -> None:
    request = example_request(METADATA)
    tensors = {t["name"]: t for t in request["inputs"]}
    assert tensors["features"]["shape"] == [1, 4]
    assert len(tensors["features"]["data"]) == 4
    assert all(isinstance(v, float) for v in tensors["features"]["data"])
    assert tensors["ids"]["shape"] == [2] and tensors["ids"]["data"] == [0, 1]
    assert tensors["flags"]["data"] == [True]
    assert tensors["text"]["data"] == ["example"]
    assert [t["datatype"] for t in request["inputs"]] == ["FP32", "INT64", "BOOL", "BYTES"]


def test_curl_command_round_trips_through_a_shell_parser() -> None:
    body = example_request(METADATA)
    words = shlex.split(curl("http://127.0.0.1:9/v2/models/m/infer", body))
    assert words[:3] == ["curl", "-s", "http://127.0.0.1:9/v2/models/m/infer"]
    assert words[words.index("-H") + 1] == "content-type: application/json"
    assert json.loads(words[words.index("-d") + 1]) == body
