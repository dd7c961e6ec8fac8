"""The load and unload parameters of the repository extension: checked, each refusal named."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.model_server.errors import InvalidInput
from modelplane.model_server.load_params import (
    LoadParameters,
    load_parameters,
    store_name,
    unregister_parameter,
)

URI = "https://models.example/m.tar.gz"


def test_no_parameters_is_a_plain_load() -> None:
    assert load_parameters(None) == LoadParameters()
    assert load_parameters({}) == LoadParameters()


def test_all_parameters_together() -> None:
    got = load_parameters({"storage_uri": URI, "memory": 1 << 20, "lazy": True, "config": "{}"})
    assert got == LoadParameters(config="{}", storage_uri=URI, memory=1 << 20, lazy=True)


@pytest.mark.parametrize("uri", ["s3://bucket/m", "gs://bucket/m", "http://h/m.onnx", URI])
def test_pullable_uris(uri: str) -> None:
    assert load_parameters({"storage_uri": uri}).storage_uri == uri


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"storage_uri": ""}, "parameters.storage_uri: expected a URI string"),
        ({"storage_uri": 3}, "parameters.storage_uri: expected a URI string"),
        ({"storage_uri": "pvc://claim/m"}, "parameters.storage_uri: 'pvc://claim/m': the server"),
        ({"storage_uri": "/models/m"}, "parameters.storage_uri: '/models/m': the server"),
        ({"storage_uri": "ftp://h/m"}, "parameters.storage_uri: storageUri 'ftp://h/m'"),
        ({"storage_uri": "s3://"}, "parameters.storage_uri: storageUri 's3://': missing host"),
        ({"memory": "1Gi"}, "parameters.memory: expected an integer number of bytes"),
        ({"memory": True}, "parameters.memory: expected an integer number of bytes"),
        ({"memory": 1.5}, "parameters.memory: expected an integer number of bytes"),
        ({"memory": 0}, "parameters.memory: expected a positive number of bytes"),
        ({"storage_uri": URI, "lazy": 1}, "parameters.lazy: expected true or false"),
        ({"lazy": True}, "parameters.lazy: only with parameters.storage_uri"),
        ({"config": 5}, "parameters.config: expected a string holding JSON"),
        ({"file:1/model.onnx": "AAAA"}, "parameters.file:1/model.onnx: not supported on load"),
    ],
)
def test_refusals_name_the_parameter(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_parameters(parameters)
    assert refused.value.message.startswith(message), refused.value.message


def test_unload_parameters() -> None:
    assert unregister_parameter(None) is False
    assert unregister_parameter({"unregister": True}) is True
    assert unregister_parameter({"unload_dependents": False}) is False
    with pytest.raises(InvalidInput, match=r"^parameters\.unregister: expected true or false"):
        unregister_parameter({"unregister": "yes"})
    with pytest.raises(InvalidInput, match=r"^parameters\.purge: not supported on unload"):
        unregister_parameter({"purge": True})


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "a\\b"])
def test_store_names_must_be_plain_directory_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="plain directory name"):
        store_name(name)
    assert store_name("iris-v2") == "iris-v2"
