"""The transport-neutral data plane: health, metadata, infer, repository; knows no HTTP or gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from modelplane import __version__
from modelplane.model_server.backends.base import Tensors
from modelplane.model_server.classification import asked_classes, classify
from modelplane.model_server.errors import (
    DeadlineExceeded,
    InferenceFailed,
    ModelLoadFailed,
    ModelNotReady,
    ModelServerError,
    Unavailable,
)
from modelplane.model_server.load_params import load_parameters, store_name, unregister_parameter
from modelplane.model_server.metrics import ServerMetrics, request_compute
from modelplane.model_server.pool import ModelPool
from modelplane.model_server.protocol import triton_types
from modelplane.model_server.protocol.datatypes import from_dtype
from modelplane.model_server.protocol.types import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    RepositoryIndexItem,
    ResponseOutput,
    ServerMetadata,
)
from modelplane.model_server.repository import LoadedModel, ModelRepository
from modelplane.model_server.request_parameters import (
    RequestOptions,
    refuse_shared_memory,
    request_options,
)
from modelplane.model_server.settings import ServerSettings
from modelplane.model_server.triton import config_from_triton, model_config, model_statistics
from modelplane.model_server.validation import (
    check_inputs,
    pick_outputs,
    prepare_inputs,
    select_outputs,
)

EXTENSIONS = [
    "binary_tensor_data",
    "classification",
    "model_repository",
    "parameters",
    "model_configuration",
    "statistics",
]
# Parameters that steer the binary extension; they are not echoed back.
_TRANSPORT_PARAMETERS = frozenset({"binary_data", "binary_data_output", "binary_data_size"})


class DataPlane:
    """One instance per server; the REST and gRPC edges call only this."""

    def __init__(
        self,
        repository: ModelRepository,
        settings: ServerSettings,
        metrics: ServerMetrics | None = None,
        pool: ModelPool | None = None,
    ) -> None:
        self.repository = repository
        self.pool = pool or ModelPool(repository, settings, metrics)
        self._last_used = repository.last_used
        self.settings = settings
        self.metrics = metrics  # the edges count requests; infer times the compute phases
        self.startup_done = False
        self.draining = False
        self.in_flight = 0
        self._limit: asyncio.Semaphore | None = None

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self.startup_done and not self.draining and self.repository.all_required_ready()

    def not_ready_reason(self) -> str | None:
        """Why the server is not ready (for the health answer), or None when it is."""
        if self.draining:
            return "shutting down"
        reason = self.repository.not_ready_reason()
        if reason is None and not self.startup_done:
            return "starting"
        return reason

    def server_metadata(self) -> ServerMetadata:
        return ServerMetadata(
            name=self.settings.server_name, version=__version__, extensions=EXTENSIONS
        )

    def model_metadata(self, name: str, version: str | None) -> ModelMetadata:
        model = self.repository.get(name, version)
        state = self.repository.get_versions(name)
        return ModelMetadata(
            name=name,
            versions=state,
            platform=model.backend.platform,
            inputs=model.signature.inputs,
            outputs=model.signature.outputs,
        )

    def model_config(self, name: str, version: str | None) -> triton_types.ModelConfig:
        """Triton's model configuration of a loaded model version (JSON shape)."""
        model = self.repository.get(name, version)
        return model_config(name, model.backend.platform, model.config, model.signature)

    def model_statistics(
        self, name: str | None, version: str | None
    ) -> triton_types.StatisticsResponse:
        """Triton's statistics for one model (version), or every loaded model when name is None."""
        if name is None:
            pairs = [(item.name, item.version) for item in self.repository.index(ready_only=True)]
            versions = [(m, v) for m, v in pairs if v is not None]
        elif version is None:
            self.repository.get(name, None)  # NotFound / NotReady as for metadata
            versions = [(name, v) for v in self.repository.get_versions(name)]
        else:
            versions = [(name, self.repository.get(name, version).version)]
        families = self.metrics.families() if self.metrics is not None else []
        return model_statistics(versions, families)

    def model_ready(self, name: str, version: str | None) -> bool:
        return self.model_not_ready_reason(name, version) is None

    def model_not_ready_reason(self, name: str, version: str | None) -> str | None:
        """Why a known model (version) is not ready, or None; an unknown one raises NotFound."""
        try:
            self.repository.get(name, version)
        except ModelServerError as exc:
            if exc.http_status == 404:
                raise
            return exc.message
        return None

    async def infer(
        self, name: str, version: str | None, request: InferenceRequest
    ) -> InferenceResponse:
        """Decode, check, run and encode one request (loading the model first when it loads on
        demand: `ModelPool.loads_on_demand`), within the earlier of the request's `timeout`
        and the server's; outputs asked for as classes come back as classes."""
        options = request_options(request.parameters)
        refuse_shared_memory(request)
        seconds = options.deadline(self.settings.request_timeout)
        try:
            model = self.repository.get(name, version)
        except ModelNotReady:
            model = await self._load_on_demand(name, version, seconds)
        self._last_used[name] = time.time()  # for least-recently-used eviction
        meter = self.metrics.model_meter(name, model.version) if self.metrics else None
        started = time.perf_counter()
        whole = model.signature.takes_request  # the model reads the request, not tensors
        if whole:
            check_inputs(model.signature, request.inputs)
        else:
            inputs = prepare_inputs(model.signature, request.inputs)
        wanted = select_outputs(model.signature, request.outputs)
        classes = asked_classes(request.outputs, model.signature.output_types)
        input_seconds = time.perf_counter() - started
        async with self._admitted():
            try:
                work = model.runner.infer_request(request) if whole else model.runner.infer(inputs)
                with request_compute() as computed:
                    outputs = await _with_timeout(work, seconds, options)
            except ModelServerError:
                raise
            except Exception as exc:
                raise InferenceFailed(
                    f"model {name!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
        started = time.perf_counter()
        out_params = {o.name: o.parameters for o in request.outputs or () if o.parameters}
        picked = pick_outputs(outputs, wanted)
        if classes:
            batched = model.config.max_batch_size > 0
            picked = [
                (
                    out,
                    classify(out, array, classes[out], batched, model.labels.get(out, ()))
                    if out in classes
                    else array,
                )
                for out, array in picked
            ]
        response = InferenceResponse(
            model_name=name,
            model_version=model.version,
            id=request.id,
            parameters=_echoed(request.parameters),
            outputs=[
                ResponseOutput(
                    name=out_name,
                    shape=list(array.shape),
                    datatype=from_dtype(array.dtype),
                    parameters=_echoed(out_params.get(out_name)),
                    array=array,
                )
                for out_name, array in picked
            ],
        )
        if meter is not None:
            # The three phases are recorded together, when the request is done, so that a
            # statistics read never sees a request half counted (metrics.request_compute).
            meter.compute_input.observe(input_seconds)
            for seconds in computed:
                meter.compute_infer.observe(seconds)
            meter.compute_output.observe(time.perf_counter() - started)
        return response

    async def _load_on_demand(
        self, name: str, version: str | None, seconds: float | None
    ) -> LoadedModel:
        """Hold a request for a model that loads on demand while it loads (one load however
        many wait), within the request's `seconds` (504); 503 with the reason when it fails."""
        if not self.pool.loads_on_demand(name):
            return self.repository.get(name, version)  # raises the not-ready answer again
        load = asyncio.shield(self.pool.load(name, trigger="request"))
        try:
            await (load if seconds is None else asyncio.wait_for(load, seconds))
        except TimeoutError:
            raise DeadlineExceeded(
                f"model {name!r} did not load within the request timeout ({seconds:g} s)"
            ) from None
        except ModelLoadFailed as exc:
            raise Unavailable(f"model {name!r} could not be loaded: {exc.message}") from None
        return self.repository.get(name, version)

    @contextlib.asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        limit = self.settings.max_concurrency
        if limit and self._limit is None:
            self._limit = asyncio.Semaphore(limit)
        self.in_flight += 1
        try:
            if self._limit is None:
                yield
            else:
                async with self._limit:
                    yield
        finally:
            self.in_flight -= 1

    def repository_index(self, ready_only: bool) -> list[RepositoryIndexItem]:
        return self.repository.index(ready_only)

    async def load(self, name: str, parameters: dict[str, Any] | None = None) -> None:
        """Load `name`: a Triton `config` parameter replaces model.yaml for this load;
        `storage_uri` registers the model (pulled from there), `memory` declares its size,
        `lazy` registers it without loading it (modelplane.model_server.load_params).

        Any other parameter (Triton's `file:*` model files among them) is refused, not ignored.
        """
        asked = load_parameters(parameters)
        override = None if asked.config is None else config_from_triton(asked.config, name)
        if asked.storage_uri is not None:
            await self.pool.register(store_name(name), asked.storage_uri, asked.memory, asked.lazy)
        elif asked.memory is not None:
            self.pool.declare(name, asked.memory)
        if not asked.lazy:
            await self.pool.load(name, override)

    async def unload(self, name: str, parameters: dict[str, Any] | None = None) -> None:
        """Unload `name`; with `unregister: true` also forget a registered model and its files."""
        if unregister_parameter(parameters):
            await self.pool.unregister(name)
        else:
            await self.pool.unload(name)


async def _with_timeout(
    awaitable: Awaitable[Tensors], seconds: float | None, options: RequestOptions
) -> Tensors:
    if seconds is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        whose = options.whose(seconds)  # named only when it ran out
        raise DeadlineExceeded(f"inference did not finish within {seconds:g} s ({whose})") from None


def _echoed(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    if not parameters:
        return None
    kept = {k: v for k, v in parameters.items() if k not in _TRANSPORT_PARAMETERS}
    return kept or None
