"""The model repository on disk and the state of every model version the server knows."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelplane.model_server.backends import create_backend
from modelplane.model_server.backends.base import Backend, Signature
from modelplane.model_server.config import ModelConfig, read_config
from modelplane.model_server.discovery import apply_overrides, choose_backend, discover_versions
from modelplane.model_server.errors import (
    InvalidInput,
    ModelLoadFailed,
    ModelNotFound,
    ModelNotReady,
)
from modelplane.model_server.eviction import Footprint
from modelplane.model_server.labels import read_labels
from modelplane.model_server.metrics import ServerMetrics
from modelplane.model_server.protocol.types import RepositoryIndexItem
from modelplane.model_server.runners.base import Runner, run_blocking
from modelplane.model_server.runners.factory import RunnerFactory, make_runner
from modelplane.model_server.settings import ServerSettings

log = logging.getLogger(__name__)

READY, UNAVAILABLE, LOADING, UNLOADING = "READY", "UNAVAILABLE", "LOADING", "UNLOADING"


@dataclass
class LoadedModel:
    """A model version that is ready: its backend, runner and signature."""

    name: str
    version: str
    config: ModelConfig
    backend: Backend
    runner: Runner
    signature: Signature
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # by output name


@dataclass
class ModelState:
    """What the index reports for one model: per-version models, state and reason; its sizes
    (declared on load, measured by modelplane.model_server.pool) and, for a model registered
    with a storage URI, where it came from."""

    name: str
    directory: Path
    state: str = UNAVAILABLE
    reason: str = ""
    versions: dict[str, LoadedModel] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    storage_uri: str | None = None  # registered: pulled from here into `directory`
    declared: int | None = None  # host bytes the load request declared
    measured: Footprint | None = None  # measured at its last load


class ModelRepository:
    """Models by name: loads and unloads them, answers lookups for the data plane."""

    def __init__(
        self,
        settings: ServerSettings,
        runner_factory: RunnerFactory = make_runner,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._runner_factory = runner_factory
        self._metrics = metrics
        self._models: dict[str, ModelState] = {}
        self.required: set[str] = set()
        self.scan_error: str | None = None  # the repository itself is unusable
        # unix time of each model's last inference or load: the data plane writes it on
        # every request (one dict store), the pool reads it to evict the least recently used
        self.last_used: dict[str, float] = {}

    def scan(self) -> list[str]:
        """Discover model directories (repository subdirectories or the single model)."""
        settings = self._settings
        if settings.model_dir is not None and settings.model_name:
            self._known(settings.model_name, settings.model_dir)
        elif settings.model_repository is not None:
            root = settings.model_repository
            if not root.is_dir():
                self.scan_error = f"model repository {root} is not a directory"
                raise ModelLoadFailed(self.scan_error)
            for child in sorted(root.iterdir()):
                if child.is_dir() and not child.name.startswith("."):
                    self._known(child.name, child)
        return list(self._models)

    def _known(self, name: str, directory: Path) -> ModelState:
        state = self._models.get(name)
        if state is None:
            state = self._models[name] = ModelState(name=name, directory=directory)
        return state

    def register(self, name: str, directory: Path, storage_uri: str) -> ModelState:
        """Know `name` as a model pulled from `storage_uri` into `directory`."""
        state = self._known(name, directory)
        state.directory, state.storage_uri = directory, storage_uri
        return state

    def forget(self, name: str) -> None:
        """Drop an unloaded model from the index (unregistered)."""
        state = self._models.get(name)
        if state is not None and state.versions:
            raise InvalidInput(f"model {name!r} is loaded; unload it before forgetting it")
        self._models.pop(name, None)
        self.last_used.pop(name, None)
        self.required.discard(name)

    def find(self, name: str) -> ModelState:
        """The state of `name` (found on disk in the repository when not yet known), or 404."""
        return self._state(name)

    def known(self, name: str) -> ModelState | None:
        """The state of `name` when the server already knows it."""
        return self._models.get(name)

    def loaded(self) -> list[ModelState]:
        """Models with versions loaded (ready, or serving on during a reload or an unload)."""
        return [state for state in self._models.values() if state.versions]

    def _state(self, name: str) -> ModelState:
        state = self._models.get(name)
        if state is None and self._settings.model_repository is not None:
            candidate = self._settings.model_repository / name
            if name and "/" not in name and not name.startswith(".") and candidate.is_dir():
                state = self._known(name, candidate)
        if state is None:
            raise ModelNotFound(f"model {name!r} is not in the repository")
        return state

    async def load(self, name: str, override: ModelConfig | None = None) -> None:
        """Load (or reload) every version of `name`; on failure the index keeps the reason.

        `override` (a Triton config given on load) replaces model.yaml for this load only.
        """
        state = self._state(name)
        async with state.lock:
            state.state, state.reason = LOADING, ""
            self._publish(state)
            try:
                loaded = await self._load_versions(state, override)
            except ModelLoadFailed as exc:
                if state.versions:  # a failed reload keeps serving what was loaded before
                    state.state = READY
                    state.reason = f"reload failed, serving the previous load: {exc.message}"
                else:
                    state.state, state.reason = UNAVAILABLE, exc.message
                self._publish(state)
                log.error("model load failed", extra={"model": name, "reason": exc.message})
                raise
            old, state.versions = state.versions, loaded
            state.state = READY
            self._publish(state)
            self.required.add(name)
            await _release(old)
            log.info("model ready", extra={"model": name, "versions": list(loaded)})

    async def _load_versions(
        self, state: ModelState, override: ModelConfig | None
    ) -> dict[str, LoadedModel]:
        loaded: dict[str, LoadedModel] = {}
        try:
            versions = await run_blocking(discover_versions, state.directory)
            for version, directory in versions.items():
                loaded[version] = await self._load_one(
                    state.name, version, directory, state.directory, override
                )
        except ModelLoadFailed:
            await _release(loaded)
            raise
        except Exception as exc:  # a backend or user model.py failed in its own way
            await _release(loaded)
            raise ModelLoadFailed(f"{type(exc).__name__}: {exc}") from exc
        return loaded

    async def _load_one(
        self,
        name: str,
        version: str,
        directory: Path,
        model_dir: Path,
        override: ModelConfig | None,
    ) -> LoadedModel:
        config, backend, labels = await run_blocking(self._build, directory, model_dir, override)
        meter = self._metrics.model_meter(name, version) if self._metrics else None
        runner = self._runner_factory(backend, config, meter)
        return LoadedModel(name, version, config, backend, runner, backend.signature(), labels)

    def _build(
        self, directory: Path, model_dir: Path, override: ModelConfig | None
    ) -> tuple[ModelConfig, Backend, dict[str, tuple[str, ...]]]:
        """Read the config (or take the override) and the outputs' labels, pick the backend and
        load it (blocking)."""
        if override is None:
            override = read_config(directory if (directory / "model.yaml").is_file() else model_dir)
        config = apply_overrides(override, self._settings)
        labels = read_labels(config, model_dir)
        files = [p.name for p in directory.iterdir() if p.is_file()]
        kind = choose_backend(config, self._settings.backend, files, directory)
        backend = create_backend(kind, directory, config)
        backend.load()
        try:
            check_declared(config, backend.signature())
        except ModelLoadFailed:
            backend.unload()
            raise
        return config, backend, labels

    async def unload(self, name: str, reason: str = "unloaded") -> None:
        """Unload every version of `name` and free its memory; `reason` stays in the index."""
        state = self._state(name)
        async with state.lock:
            if state.state != READY:
                raise ModelNotReady(f"model {name!r} is not loaded")
            state.state = UNLOADING
            self._publish(state)
            old, state.versions = state.versions, {}
            self.required.discard(name)
            await _release(old)
            state.state, state.reason = UNAVAILABLE, reason
            self._publish(state)
            log.info("model unloaded", extra={"model": name})

    async def unload_all(self) -> None:
        """Release every loaded model (shutdown)."""
        for state in self._models.values():
            old, state.versions = state.versions, {}
            state.state = UNAVAILABLE
            self._publish(state)
            await _release(old, collect=False)
        gc.collect()

    def _publish(self, state: ModelState) -> None:
        if self._metrics is not None:
            self._metrics.set_model_state(state.name, state.state)

    def get(self, name: str, version: str | None) -> LoadedModel:
        """The loaded model version (latest when `version` is None); serves on during a reload."""
        state = self._models.get(name)
        if state is None:
            raise ModelNotFound(f"model {name!r} is not in the repository")
        versions = state.versions
        if not versions:
            why = f": {state.reason}" if state.reason else ""
            raise ModelNotReady(f"model {name!r} is not ready ({state.state.lower()}){why}")
        if version is None:
            return versions[max(versions, key=int)]
        model = versions.get(version)
        if model is None:
            raise ModelNotFound(f"model {name!r} has no version {version!r}")
        return model

    def get_versions(self, name: str) -> list[str]:
        """Loaded versions of `name`, oldest first."""
        state = self._models.get(name)
        return sorted(state.versions, key=int) if state else []

    def all_required_ready(self) -> bool:
        """Whether every model loaded at startup (and not unloaded since) is ready."""
        return self.scan_error is None and all(
            self._models[name].state == READY for name in self.required
        )

    def not_ready_reason(self) -> str | None:
        """Why the startup models are not all ready (each one that is not), or None."""
        if self.scan_error is not None:
            return self.scan_error
        reasons = [
            _why_not_ready(self._models[name])
            for name in sorted(self.required)
            if self._models[name].state != READY
        ]
        return "; ".join(reasons) or None

    def index(self, ready_only: bool = False) -> list[RepositoryIndexItem]:
        """One entry per model version (or per model when it has none loaded)."""
        items: list[RepositoryIndexItem] = []
        for state in self._models.values():
            if ready_only and state.state != READY:
                continue
            extension = self._extension(state)
            if state.versions:
                items += [
                    RepositoryIndexItem(
                        name=state.name,
                        version=v,
                        state=state.state,
                        reason=state.reason,
                        **extension,
                    )
                    for v in state.versions
                ]
            else:
                items.append(
                    RepositoryIndexItem(
                        name=state.name, state=state.state, reason=state.reason, **extension
                    )
                )
        return items

    def _extension(self, state: ModelState) -> dict[str, Any]:
        """modelplane's index fields: storage_uri, memory, gpu_memory, last_used (when known)."""
        fields: dict[str, Any] = {}
        if state.storage_uri is not None:
            fields["storage_uri"] = state.storage_uri
        if state.measured is not None:
            fields["memory"] = state.measured.host
            if state.measured.gpu:
                fields["gpu_memory"] = state.measured.gpu
        elif state.declared is not None:
            fields["memory"] = state.declared
        used = self.last_used.get(state.name)
        if used is not None:
            fields["last_used"] = used
        return fields


def _why_not_ready(state: ModelState) -> str:
    if state.state == LOADING:
        return f"model {state.name!r} is loading"
    if state.state == UNLOADING:
        return f"model {state.name!r} is unloading"
    if state.reason:
        return f"model {state.name!r} failed to load: {state.reason}"
    return f"model {state.name!r} is not loaded"


async def _release(models: dict[str, LoadedModel], collect: bool = True) -> None:
    """Close runners, unload backends, drop the references (and collect, so memory is freed)."""
    if not models:
        return
    for model in models.values():
        await model.runner.close()
        await run_blocking(model.backend.unload)
    models.clear()
    if collect:
        gc.collect()


def check_declared(config: ModelConfig, signature: Signature) -> None:
    """Declared inputs and outputs must be the model's own: same name, datatype and shape
    (-1 matches any size). A backend that reads its signature from the model (onnx) would
    otherwise leave a wrong declaration silently unused."""
    for kind, declared, actual in (
        ("input", config.inputs, signature.inputs),
        ("output", config.outputs, signature.outputs),
    ):
        by_name = {t.name: t for t in actual}
        for tensor in declared:
            found = by_name.get(tensor.name)
            if found is None:
                raise ModelLoadFailed(f"declared {kind} {tensor.name!r} is not one of the model's")
            if found.datatype != tensor.datatype:
                raise ModelLoadFailed(
                    f"declared {kind} {tensor.name!r} is {tensor.datatype}, the model's is "
                    f"{found.datatype}"
                )
            if len(found.shape) != len(tensor.shape) or any(
                a != b and -1 not in (a, b) for a, b in zip(found.shape, tensor.shape, strict=True)
            ):
                raise ModelLoadFailed(
                    f"declared {kind} {tensor.name!r} has shape {tensor.shape}, the model's is "
                    f"{found.shape}"
                )
