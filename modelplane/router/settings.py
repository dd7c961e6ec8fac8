"""Router settings: every CLI flag is also an env variable ``MODELPLANE_<FLAG>``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from modelplane.api.inference_graph import DEFAULT_HTTP_EDGE, HttpEdge
from modelplane.edge.limit_settings import EdgeLimitSettings
from modelplane.flags import Flag
from modelplane.logs import LoggingSettings
from modelplane.router.headers import DEFAULT_PROPAGATE


class RouterSettings(EdgeLimitSettings, LoggingSettings):
    """How the router listens (its HTTP edge's limits as the model server's), calls upstreams
    and what it forwards."""

    model_config = SettingsConfigDict(env_prefix="MODELPLANE_", extra="ignore")

    graph: Annotated[str, Flag(metavar="FILE")] = Field(
        default="", description="graph file, YAML or JSON (steps resolved to URLs)"
    )
    host: str = Field(default="0.0.0.0", description="address to bind")
    port: int = Field(default=8080, description="port")
    grpc_port: int = Field(
        default=8081, ge=-1, le=65535, description="gRPC port (0: any free port, -1: no gRPC)"
    )
    http_edge: HttpEdge | None = Field(
        default=None,
        description="how REST requests run: loop (one asyncio event loop: the most requests "
        "per CPU under load) or threads (a thread per client connection running the graph "
        "with blocking calls to its steps: the shorter hop at low concurrency, more CPU under "
        f"load; REST and gRPC steps alike); default: the graph file's httpEdge, else "
        f"{DEFAULT_HTTP_EDGE}",
    )
    step_timeout: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=60.0, gt=0, description="per-attempt timeout of steps that set none"
    )
    request_timeout: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=120.0, gt=0, description="deadline of a request when the graph sets no timeout"
    )
    connect_timeout: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=3.0,
        gt=0,
        description="most seconds to open a connection to a REST upstream (a connection to a "
        "pod that is gone gets no answer at all); slower counts as a connection error, retried",
    )
    retries: Annotated[int, Flag(metavar="N")] = Field(
        default=2, ge=0, description="retries on connection errors and 502/503/504"
    )
    retry_backoff: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=0.05, ge=0, description="first pause before a retry, doubling"
    )
    upstream_connections: Annotated[int, Flag(metavar="N")] = Field(
        default=64, gt=0, description="idle keep-alive connections kept per REST upstream"
    )
    max_request_size: Annotated[int, Flag(metavar="BYTES")] = Field(
        default=64 * 1024 * 1024, gt=0, description="largest request body"
    )
    propagate_headers: Annotated[list[str], Flag(names=("--propagate-header",), metavar="NAME")] = (
        Field(
            default_factory=lambda: list(DEFAULT_PROPAGATE),
            description="header name or glob forwarded to every step (repeatable; replaces the "
            "defaults: " + ", ".join(DEFAULT_PROPAGATE) + ")",
        )
    )
