"""Typed server settings: `modelplane serve` flags, each also `MODELPLANE_<FLAG>` in the env."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class ServerSettings(BaseSettings):
    """All knobs of one model server process."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_", extra="ignore")

    model_repository: Path | None = None
    model_name: str | None = None
    model_dir: Path | None = None
    backend: Literal["onnx", "pytorch", "python"] | None = None
    host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    grpc_port: int = Field(default=8081, ge=-1, le=65535)  # -1: no gRPC
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # None: same as http
    workers: int = Field(default=1, ge=1)
    # Batching: when set, these override every model's model.yaml.
    max_batch_size: int | None = Field(default=None, ge=0)
    max_queue_delay_us: int | None = Field(default=None, ge=0)
    max_queue_size: int | None = Field(default=None, ge=0)
    request_timeout: float | None = Field(default=None, gt=0)
    max_concurrency: int = Field(default=0, ge=0)  # 0 = unlimited
    max_request_size: int = Field(default=64 * 1024 * 1024, gt=0)
    log_level: LogLevel = "info"
    response_compression: bool = False  # gzip/deflate responses when Accept-Encoding asks
    drain_seconds: float = Field(default=0.0, ge=0)  # readiness false this long before closing
    shutdown_timeout: float = Field(default=30.0, gt=0)  # most to wait for in-flight requests
    server_name: str = "modelplane"

    @model_validator(mode="after")
    def _one_source(self) -> ServerSettings:
        single = self.model_dir is not None
        if single and self.model_repository is not None:
            raise ValueError("give either --model-repository or --model-dir, not both")
        if single and not self.model_name:
            raise ValueError("--model-dir needs --model-name")
        if self.model_name and not single:
            raise ValueError("--model-name needs --model-dir")
        return self
