"""An output's class labels: the file read as Triton reads it, its name checked, and Triton's
`label_filename` mapped to and from model.yaml's `labels`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelplane.model_server.backends.base import Signature
from modelplane.model_server.config import ModelConfig, OutputConfig
from modelplane.model_server.errors import InvalidInput, ModelLoadFailed
from modelplane.model_server.labels import parse_labels, read_labels
from modelplane.model_server.protocol.types import MetadataTensor
from modelplane.model_server.triton import config_from_triton, model_config

SCORES = {"name": "scores", "datatype": "FP32", "shape": [-1, 3]}


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("cat\ndog\n", ("cat", "dog")),
        ("cat\ndog", ("cat", "dog")),
        ("cat\n\nbird\n", ("cat", "", "bird")),  # an empty line is the label of its index
        ("cat\r\ndog\r\n", ("cat", "dog")),
        ("", ()),
    ],
)
def test_one_label_per_line(text: str, labels: tuple[str, ...]) -> None:
    assert parse_labels(text) == labels


@pytest.mark.parametrize("name", ["../labels.txt", "sub/labels.txt", "..", ".", ""])
def test_a_labels_file_is_a_name_in_the_models_directory(name: str) -> None:
    with pytest.raises(ValidationError, match="is not a file name in the model's directory"):
        OutputConfig(**SCORES, labels=name)


def test_only_an_output_has_labels() -> None:
    with pytest.raises(ValidationError, match="labels"):
        ModelConfig.model_validate({"inputs": [{**SCORES, "labels": "labels.txt"}]})


def test_labels_are_read_by_output_and_a_missing_file_fails_the_load(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("cat\ndog\nbird\n")
    config = ModelConfig(outputs=[OutputConfig(**SCORES, labels="labels.txt")])
    assert read_labels(config, tmp_path) == {"scores": ("cat", "dog", "bird")}
    missing = ModelConfig(outputs=[OutputConfig(**SCORES, labels="gone.txt")])
    with pytest.raises(ModelLoadFailed, match=r"output 'scores': labels file 'gone\.txt'"):
        read_labels(missing, tmp_path)


def _triton(output: dict[str, object]) -> str:
    return json.dumps({"max_batch_size": 4, "output": [output]})


def test_tritons_label_filename_is_an_outputs_labels_both_ways() -> None:
    given = {"name": "scores", "data_type": "TYPE_FP32", "dims": [3]}
    config = config_from_triton(_triton({**given, "label_filename": "labels.txt"}), "m")
    assert config.outputs[0].labels == "labels.txt"
    signature = Signature(outputs=[MetadataTensor(**SCORES)])
    written = model_config("m", "onnxruntime_onnx", config, signature)
    assert written.output[0].label_filename == "labels.txt"
    assert (
        model_config("m", "onnxruntime_onnx", ModelConfig(max_batch_size=4), signature)
        .output[0]
        .label_filename
        is None
    )


def test_a_label_filename_that_leaves_the_models_directory_is_refused() -> None:
    given = {"name": "scores", "data_type": "TYPE_FP32", "dims": [3], "label_filename": "../x"}
    with pytest.raises(InvalidInput, match=r"output\[0\]\.label_filename: .*not a file name"):
        config_from_triton(_triton(given), "m")
    with pytest.raises(InvalidInput, match=r"input\[0\]\.label_filename: not supported"):
        config_from_triton(json.dumps({"input": [given]}), "m")
