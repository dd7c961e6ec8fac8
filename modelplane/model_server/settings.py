"""Typed server settings: `modelplane serve` flags, each also `MODELPLANE_<FLAG>` in the env."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from modelplane.edge.limit_settings import EdgeLimitSettings
from modelplane.flags import Flag
from modelplane.logs import LoggingSettings
from modelplane.termination import DEFAULT_PATH


class ServerSettings(EdgeLimitSettings, LoggingSettings):
    """All knobs of one model server process."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_", extra="ignore")

    model_repository: Annotated[Path | None, Flag(metavar="DIR")] = Field(
        default=None, description="directory with one subdirectory per model"
    )
    model_name: Annotated[str | None, Flag(metavar="N")] = Field(
        default=None, description="name of the single model in --model-dir"
    )
    model_dir: Annotated[Path | None, Flag(metavar="D")] = Field(
        default=None, description="directory of a single model (with --model-name)"
    )
    backend: Literal["onnx", "pytorch", "python"] | None = Field(
        default=None, description="backend when files are ambiguous"
    )
    host: str = Field(default="0.0.0.0", description="address to bind")
    http_port: int = Field(
        default=8080, ge=0, le=65535, description="REST port; 0 picks a free one"
    )
    grpc_port: int = Field(
        default=8081, ge=-1, le=65535, description="gRPC port; 0 picks a free one, -1 disables gRPC"
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Prometheus /metrics port (default: the HTTP port)",
    )
    workers: int = Field(default=1, ge=1, description="server processes sharing the ports")
    # Batching: when set, these override every model's model.yaml.
    max_batch_size: int | None = Field(
        default=None, ge=0, description="override every model's max_batch_size"
    )
    max_queue_delay_us: int | None = Field(
        default=None, ge=0, description="override every model's batching delay"
    )
    max_queue_size: int | None = Field(
        default=None, ge=0, description="override every model's batching queue bound"
    )
    request_timeout: Annotated[float | None, Flag(metavar="SECONDS")] = Field(
        default=None, gt=0, description="per-request inference deadline"
    )
    max_concurrency: int = Field(
        default=0, ge=0, description="in-flight inferences at once (0 = unlimited)"
    )
    max_request_size: Annotated[int, Flag(metavar="BYTES")] = Field(
        default=64 * 1024 * 1024, gt=0, description="largest request body"
    )
    response_compression: bool = Field(
        default=False,
        description="compress responses (gzip/deflate) when the client's Accept-Encoding asks",
    )
    drain_seconds: float = Field(
        default=0.0, ge=0, description="after SIGTERM, stay up not-ready this long"
    )
    shutdown_timeout: float = Field(
        default=30.0, gt=0, description="most seconds to wait for in-flight requests"
    )
    exit_on_load_failure: bool = Field(
        default=False,
        description="exit 1 when a startup model fails to load, its reason in the termination "
        "message file (in a pod: CrashLoopBackOff that says why); without it the server stays "
        "up, not ready, and /v2/health/ready says why",
    )
    termination_message_path: Annotated[Path, Flag(metavar="FILE")] = Field(
        default=Path(DEFAULT_PATH),
        description="where --exit-on-load-failure writes the reason (the container's "
        "terminationMessagePath)",
    )
    model_store: Annotated[Path | None, Flag(metavar="DIR")] = Field(
        default=None,
        description="where models registered with a storage_uri on load are pulled, one "
        "subdirectory per model (default: the model repository)",
    )
    memory_capacity: Annotated[int, Flag(metavar="BYTES")] = Field(
        default=0,
        ge=0,
        description="host memory the loaded models may use in total; loads beyond it unload "
        "the least recently used models first (0 = unlimited)",
    )
    gpu_memory_capacity: Annotated[int, Flag(metavar="BYTES")] = Field(
        default=0,
        ge=0,
        description="GPU memory the loaded models may use in total, as --memory-capacity "
        "(0 = unlimited)",
    )
    server_name: Annotated[str, Flag(hidden=True)] = "modelplane"

    @model_validator(mode="after")
    def _one_source(self) -> ServerSettings:
        single = self.model_dir is not None
        if single and self.model_repository is not None:
            raise ValueError("give either --model-repository or --model-dir, not both")
        if single and not self.model_name:
            raise ValueError("--model-dir needs --model-name")
        if self.model_name and not single:
            raise ValueError("--model-name needs --model-dir")
        pooled = self.memory_capacity or self.gpu_memory_capacity or self.model_store
        if pooled and self.workers > 1:
            raise ValueError(
                "--model-store and the memory capacities need --workers 1: each worker process "
                "holds its own models"
            )
        return self
