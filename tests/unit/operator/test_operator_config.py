"""Operator configuration: defaults, a YAML file (ConfigMap), environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelplane.operator.config import OperatorConfig, load_config


def test_defaults_are_the_contract_images() -> None:
    config = OperatorConfig()
    assert config.model_server_image == "modelplane/model-server:0.1.0"
    assert config.model_server_gpu_image == "modelplane/model-server-cuda:0.1.0"
    assert config.router_image == "modelplane/router:0.1.0"
    assert config.ingress_domain is None
    assert config.gpu_resources["nvidia.com/mig-*"] == "nvidia.com/gpu"


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("ingressDomain: file.example.com\ningress_class: nginx\nresyncSeconds: 30\n")
    monkeypatch.setenv("MODELPLANE_OPERATOR_INGRESS_DOMAIN", "env.example.com")
    monkeypatch.setenv("MODELPLANE_OPERATOR_GPU_RESOURCES", '{"amd.com/gpu": "amd.com/gpu"}')
    config = load_config(path)
    assert config.ingress_domain == "env.example.com"
    assert config.ingress_class == "nginx"
    assert config.resync_seconds == 30
    assert config.gpu_resources == {"amd.com/gpu": "amd.com/gpu"}


def test_unknown_setting_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("ingressDomian: typo.example.com\n")
    with pytest.raises(ValueError, match="ingress_domian"):
        load_config(path)
