"""The image config and docker-archive manifest the builder writes: pure functions of the spec."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tools.images.dockerfile import ImageSpec
from tools.images.layer import EPOCH

CREATED = datetime.fromtimestamp(EPOCH, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_config(spec: ImageSpec) -> dict[str, Any]:
    """The `config` of the image: what a runtime reads to start a container."""
    config: dict[str, Any] = {
        "Env": [f"{name}={value}" for name, value in spec.env],
        "Entrypoint": spec.entrypoint,
        "WorkingDir": spec.workdir,
        "User": spec.user,
    }
    if spec.cmd:
        config["Cmd"] = spec.cmd
    if spec.expose:
        config["ExposedPorts"] = {port: {} for port in spec.expose}
    return config


def image_config(spec: ImageSpec, diff_ids: list[str], history: list[str]) -> dict[str, Any]:
    """The whole image config (docker image spec v1.2 / OCI): platform, layers, history."""
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": container_config(spec),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": line} for line in history],
    }


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def manifest(ref: str, config_name: str, layer_names: list[str]) -> list[dict[str, Any]]:
    """docker-archive's manifest.json (the `docker save` format containerd imports)."""
    return [{"Config": config_name, "RepoTags": [ref], "Layers": layer_names}]
