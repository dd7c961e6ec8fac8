"""The HTTP edge's connection limits as settings, one flag (and MODELPLANE_* variable) each,
mixed into the model server's and the router's settings. No server imports: the router's
edge (`h1server`) and the model server's (`limits`, over uvicorn) read the same flags."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings

from modelplane.edge.keepalive import KEEP_ALIVE_SECONDS
from modelplane.flags import Flag

MAX_HEADER_SIZE = 64 * 1024
HEADER_TIMEOUT = 10.0
MAX_CONNECTIONS = 1024


class EdgeLimitSettings(BaseSettings):
    """Flags for the edge's limits; mixed into a part's settings class."""

    max_header_size: Annotated[int, Flag(metavar="BYTES")] = Field(
        default=MAX_HEADER_SIZE,
        gt=0,
        description="largest request head (request line and headers); larger gets 431",
    )
    header_timeout: Annotated[float, Flag(metavar="SECONDS")] = Field(
        default=HEADER_TIMEOUT,
        gt=0,
        description="most seconds to receive a request's head; slower gets 408 and is closed",
    )
    keep_alive_timeout: Annotated[int, Flag(metavar="SECONDS")] = Field(
        default=KEEP_ALIVE_SECONDS,
        ge=1,
        description="idle seconds before a connection with no request in progress is closed "
        "(keep it longer than the idle timeout of the proxies in front)",
    )
    max_connections: Annotated[int, Flag(metavar="N")] = Field(
        default=MAX_CONNECTIONS,
        ge=0,
        description="open connections per worker; beyond it a request gets 503 (0 = unlimited)",
    )
