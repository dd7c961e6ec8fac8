"""Pure decisions: REST routing, device/provider choice, backend detection, versions, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.model_server.backends.devices import select_providers, select_torch_device
from modelplane.model_server.cli import settings_from_args
from modelplane.model_server.config import ModelConfig
from modelplane.model_server.discovery import apply_overrides, detect_backend, discover_versions
from modelplane.model_server.errors import MethodNotAllowed, ModelLoadFailed, RouteNotFound
from modelplane.model_server.rest.routes import Route, match

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/v2", Route("server_metadata")),
        ("GET", "/v2/health/live", Route("health_live")),
        ("GET", "/v2/health/ready", Route("health_ready")),
        ("GET", "/v2/models/m", Route("model_metadata", "m")),
        ("GET", "/v2/models/m/versions/3", Route("model_metadata", "m", "3")),
        ("GET", "/v2/models/m/ready", Route("model_ready", "m")),
        ("GET", "/v2/models/m/versions/2/ready", Route("model_ready", "m", "2")),
        ("POST", "/v2/models/m/infer", Route("model_infer", "m")),
        ("POST", "/v2/models/m/versions/1/infer", Route("model_infer", "m", "1")),
        ("POST", "/v2/repository/index", Route("repository_index")),
        ("POST", "/v2/repository/models/m/load", Route("repository_load", "m")),
        ("POST", "/v2/repository/models/m/unload", Route("repository_unload", "m")),
        ("HEAD", "/v2/health/ready", Route("health_ready")),
    ],
)
def test_routes(method: str, path: str, route: Route) -> None:
    assert match(method, path) == route


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1/models/m",
        "/v2/models",
        "/v2/models/m/versions",
        "/v2/models/m/explain",
        "/v2/repository/models/m",
    ],
)
def test_unknown_paths(path: str) -> None:
    with pytest.raises(RouteNotFound):
        match("GET", path)


def test_wrong_method_is_not_allowed() -> None:
    with pytest.raises(MethodNotAllowed, match="takes POST"):
        match("GET", "/v2/models/m/infer")


@pytest.mark.parametrize(
    ("device", "available", "gpu", "expected"),
    [
        ("cpu", [CUDA, CPU], True, [CPU]),
        ("auto", [CUDA, CPU], True, [CUDA, CPU]),
        ("auto", [CUDA, CPU], False, [CPU]),
        ("auto", ["AzureExecutionProvider", CPU], True, [CPU]),
        ("cuda", [CUDA, CPU], True, [CUDA, CPU]),
    ],
)
def test_onnx_providers(device: str, available: list[str], gpu: bool, expected: list[str]) -> None:
    assert select_providers(device, available, gpu) == expected


def test_cuda_asked_without_provider_or_gpu_fails_with_reason() -> None:
    with pytest.raises(ModelLoadFailed, match="onnxruntime-gpu"):
        select_providers("cuda", [CPU], True)
    with pytest.raises(ModelLoadFailed, match="no GPU"):
        select_providers("cuda", [CUDA, CPU], False)


def test_torch_device() -> None:
    assert select_torch_device("auto", True) == "cuda"
    assert select_torch_device("auto", False) == "cpu"
    assert select_torch_device("cpu", True) == "cpu"
    with pytest.raises(ModelLoadFailed):
        select_torch_device("cuda", False)


@pytest.mark.parametrize(
    ("files", "backend"),
    [
        (["model.onnx"], "onnx"),
        (["weights.onnx", "model.yaml"], "onnx"),
        (["model.pt"], "pytorch"),
        (["model.pt2"], "pytorch"),
        (["model.py", "model.yaml"], "python"),
        (["README.md"], None),
    ],
)
def test_detect_backend(files: list[str], backend: str | None) -> None:
    assert detect_backend(files) == backend


def test_versions_are_numeric_subdirectories(tmp_path: Path) -> None:
    for name in ("2", "10", "1", "notes"):
        (tmp_path / name).mkdir()
    assert list(discover_versions(tmp_path)) == ["1", "2", "10"]
    flat = tmp_path / "notes"
    assert discover_versions(flat) == {"1": flat}


def test_flags_override_env_and_model_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPLANE_HTTP_PORT", "9000")
    monkeypatch.setenv("MODELPLANE_MAX_BATCH_SIZE", "4")
    settings = settings_from_args(
        ["--model-repository", "/m", "--max-batch-size", "16", "--max-queue-delay-us", "250"]
    )
    assert settings.http_port == 9000
    assert settings.max_batch_size == 16
    config = apply_overrides(ModelConfig(max_batch_size=2), settings)
    assert config.max_batch_size == 16
    assert config.batching is not None and config.batching.max_queue_delay_us == 250


def test_single_model_form_needs_both_flags() -> None:
    with pytest.raises(ValueError, match="--model-dir needs --model-name"):
        settings_from_args(["--model-dir", "/m"])


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, None),
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip;q=0, deflate", "deflate"),
        ("br, identity", None),
        ("deflate, gzip;q=0.5", "gzip"),
    ],
)
def test_response_encoding_choice(accept: str | None, chosen: str | None) -> None:
    from modelplane.edge.encoding import choose_encoding

    assert choose_encoding(accept) == chosen
