"""Router settings: every CLI flag is also an env variable ``MODELPLANE_<FLAG>``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelplane.router.headers import DEFAULT_PROPAGATE


class RouterSettings(BaseSettings):
    """How the router listens, calls upstreams and what it forwards."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_", extra="ignore")

    graph: str = Field(default="", description="graph file (YAML or JSON), steps resolved to URLs")
    host: str = "0.0.0.0"
    port: int = 8080
    step_timeout: float = Field(
        default=60.0, gt=0, description="default per-attempt step timeout (s)"
    )
    request_timeout: float = Field(
        default=120.0, gt=0, description="overall deadline when the graph sets no timeout (s)"
    )
    retries: int = Field(
        default=2, ge=0, description="default retries on connection errors/502/503/504"
    )
    retry_backoff: float = Field(default=0.05, ge=0, description="first retry pause (s), doubling")
    max_connections: int = Field(
        default=512, gt=0, description="pooled connections to all upstreams"
    )
    max_request_size: int = Field(
        default=64 * 1024 * 1024, gt=0, description="largest body (bytes)"
    )
    propagate_headers: list[str] = Field(default_factory=lambda: list(DEFAULT_PROPAGATE))
    log_level: str = "info"
