"""The V2 wire types (pydantic), shared by REST, gRPC and the data plane."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt
from pydantic.json_schema import SkipJsonSchema

_INT_RANGE = (-(2**63), 2**64 - 1)  # gRPC's int64_param and uint64_param between them


def _in_64_bits(value: Any) -> Any:
    """Integers anywhere in a parameter value fit 64 bits: wider ones cannot be written back
    (the answer echoes parameters) nor carried over gRPC."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValueError(f"the integer {value} does not fit 64 bits")
    elif isinstance(value, dict):
        for item in value.values():
            _in_64_bits(item)
    elif isinstance(value, list):
        for item in value:
            _in_64_bits(item)
    return value


Parameters = Annotated[dict[str, Any], AfterValidator(_in_64_bits)]
# Shape elements are JSON integers: `true` and `1.0` are refused, not coerced.
Shape = list[StrictInt]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class RequestInput(_Wire):
    """One input tensor: JSON `data`, or bytes from the binary extension / gRPC raw contents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    shape: Shape
    datatype: str
    parameters: Parameters | None = None
    data: Any = None
    # Set by the edges only: JSON cannot produce a memoryview, so a client cannot fill it.
    raw: SkipJsonSchema[memoryview | None] = Field(default=None, exclude=True, repr=False)

    def with_raw(self, raw: bytes | memoryview) -> RequestInput:
        """Attach the binary payload (REST binary extension, gRPC raw_input_contents)."""
        self.raw = raw if isinstance(raw, memoryview) else memoryview(raw)
        return self


class RequestOutput(_Wire):
    """An output the client asks for, with per-output parameters such as `binary_data`."""

    name: str
    parameters: Parameters | None = None


class InferenceRequest(_Wire):
    """A V2 inference request."""

    id: str | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(_Wire):
    """One output tensor; the edges encode `array` as JSON data or binary bytes."""

    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: Any = None
    array: SkipJsonSchema[Any] = Field(default=None, exclude=True, repr=False)  # numpy


class InferenceResponse(_Wire):
    """A V2 inference response."""

    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class MetadataTensor(_Wire):
    """Name, datatype and shape (-1 for a variable dimension) of a model input or output."""

    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(_Wire):
    """`GET /v2/models/{name}` response."""

    name: str
    versions: list[str] = Field(default_factory=list)
    platform: str
    inputs: list[MetadataTensor] = Field(default_factory=list)
    outputs: list[MetadataTensor] = Field(default_factory=list)
    parameters: Parameters | None = None


class ServerMetadata(_Wire):
    """`GET /v2` response."""

    name: str
    version: str
    extensions: list[str]


class RepositoryIndexRequest(_Wire):
    """`POST /v2/repository/index` body."""

    ready: bool = False


class RepositoryIndexItem(_Wire):
    """One entry of the repository index: state READY|UNAVAILABLE|LOADING|UNLOADING, reason;
    modelplane adds, when known: `storage_uri` (a registered model's), `memory` (host bytes,
    measured at the last load, else declared), `gpu_memory` (bytes) and `last_used` (unix
    seconds of the last inference or load)."""

    name: str
    version: str | None = None
    state: str
    reason: str = ""
    storage_uri: str | None = None
    memory: int | None = None
    gpu_memory: int | None = None
    last_used: float | None = None


class RepositoryLoadRequest(_Wire):
    """`POST /v2/repository/models/{name}/load` body: `parameters.config` is a Triton model
    configuration as a JSON string (applied for this load); `parameters.storage_uri` registers
    the model (pulled from there), `parameters.memory` declares its size in bytes and
    `parameters.lazy: true` registers it without loading it (it loads on its first request)."""

    parameters: Parameters | None = None


class RepositoryUnloadRequest(_Wire):
    """`POST /v2/repository/models/{name}/unload` body: `parameters.unregister: true` also
    forgets a registered model and deletes its pulled files."""

    parameters: Parameters | None = None


class HealthLive(_Wire):
    """`GET /v2/health/live` response."""

    live: bool


class HealthReady(_Wire):
    """`GET /v2/health/ready` response; `reason` says why when not ready (503)."""

    ready: bool
    reason: str | None = None


class ModelReady(_Wire):
    """`GET /v2/models/{name}[/versions/{v}]/ready` response; `reason` when not ready (503)."""

    name: str
    ready: bool
    reason: str | None = None


class ErrorResponse(_Wire):
    """Every error answer: a message naming the field or the problem."""

    error: str
