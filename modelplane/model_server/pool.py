"""Many models in one server: registration from storage, loads that fit the memory capacity by
evicting the least recently used, on-demand loads, and each model's measured size.

Every load goes through `ModelPool.load`, one at a time: it plans evictions from the model's
known size (measured at its last load, else declared), unloads them, loads the model between
two memory readings (so the difference is this model's), and, when the measured size leaves
the server over capacity, evicts more (never the model just loaded). A model bigger than the
capacity is refused with a reason starting "does not fit:", before its load when its size is
known, else right after it (a first reading over capacity is measured once more: other
threads' allocations can inflate one). Loads of one model are single-flight: whoever asks while it
loads (an API call, held inference requests) waits for the same load.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from modelplane.model_server.config import ModelConfig
from modelplane.model_server.errors import InvalidInput, ModelLoadFailed, ModelNotReady
from modelplane.model_server.eviction import (
    Footprint,
    Resident,
    larger,
    misfit,
    plan_evictions,
)
from modelplane.model_server.memory import (
    MemoryProbe,
    give_back_freed_memory,
    grown,
    torch_gpu_used,
)
from modelplane.model_server.metrics import ServerMetrics
from modelplane.model_server.repository import UNAVAILABLE, ModelRepository, ModelState
from modelplane.model_server.runners.base import run_blocking
from modelplane.model_server.settings import ServerSettings
from modelplane.storage.pull import pull
from modelplane.storage.settings import StorageSettings

log = logging.getLogger(__name__)

EVICTED = "evicted"
REGISTERED = "registered"
# reasons of a registered model that is not loaded but loads on its next inference request
ON_DEMAND_REASONS = (EVICTED, REGISTERED, "unloaded")
_SOURCE = ".{name}.storage_uri"  # beside the pulled model: where it came from
_PARTIAL = ".{name}.pulling"


class ModelPool:
    """Loads, evicts, registers and unregisters models of one repository within its capacity."""

    def __init__(
        self,
        repository: ModelRepository,
        settings: ServerSettings,
        metrics: ServerMetrics | None = None,
        probe: MemoryProbe | None = None,
    ) -> None:
        self.repository = repository
        self._settings = settings
        self._metrics = metrics
        self.capacity = Footprint(settings.memory_capacity, settings.gpu_memory_capacity)
        gpu = torch_gpu_used if settings.gpu_memory_capacity else None
        self._probe = probe or MemoryProbe(gpu=gpu)
        self._one_load = asyncio.Lock()  # loads run one at a time: each delta is one model's
        self._flights: dict[str, asyncio.Task[None]] = {}
        self._held: set[str] = set()  # models whose running load an inference began
        self._pulls: dict[str, asyncio.Lock] = {}
        self._primed: set[str] = set()  # backends (and devices) loaded once in this process

    @property
    def limited(self) -> bool:
        """Whether a memory capacity is set (the pool mode: loads may evict)."""
        return self.capacity != Footprint()

    # --- registration -------------------------------------------------------------------

    def store(self) -> Path:
        """Where registered models are pulled, or InvalidInput when the server has no place."""
        store = self._settings.model_store or self._settings.model_repository
        if store is None:
            raise InvalidInput(
                "parameters.storage_uri: this server has no --model-store or --model-repository "
                "to pull models into"
            )
        if self._settings.workers > 1:
            raise InvalidInput(
                "parameters.storage_uri: registering models needs --workers 1 (each worker "
                "process holds its own models)"
            )
        return store

    async def register(self, name: str, uri: str, declared: int | None, lazy: bool) -> None:
        """Know `name` as the model at `uri`, pulled into the store unless already pulled from
        there; a different URI replaces the model (unloaded first)."""
        store = self.store()
        lock = self._pulls.setdefault(name, asyncio.Lock())
        async with lock:
            directory = store / name
            state = self.repository.known(name)
            pulled = await run_blocking(_pulled_from, store, name)
            flight = self._flights.get(name)
            if pulled != uri and flight is not None:
                await asyncio.wait([flight])  # its files are about to be replaced
            if state is not None and state.versions and state.storage_uri != uri:
                await self.repository.unload(name, reason=f"replaced by {uri}")
            if pulled != uri:
                try:
                    await run_blocking(_pull_into, store, name, uri)
                except Exception as exc:
                    reason = f"pulling {uri} failed: {type(exc).__name__}: {exc}"
                    failed = self.repository.register(name, directory, uri)
                    failed.state, failed.reason = UNAVAILABLE, reason
                    self._publish(failed)
                    log.error("model pull failed", extra={"model": name, "reason": reason})
                    raise ModelLoadFailed(reason) from exc
            state = self.repository.register(name, directory, uri)
            if pulled != uri:  # new files: what was known of the old ones no longer holds
                state.measured, state.declared = None, declared
            elif declared is not None:
                state.declared = declared
            if lazy and not state.versions and not state.reason.startswith(ON_DEMAND_REASONS):
                state.state, state.reason = UNAVAILABLE, f"{REGISTERED}: loads on its first request"
                self._publish(state)
            log.info("model registered", extra={"model": name, "storage_uri": uri})

    def declare(self, name: str, declared: int) -> None:
        """Take `declared` bytes as the size of `name` until a load measures it."""
        self.repository.find(name).declared = declared

    async def unload(self, name: str) -> None:
        """Unload `name` (a registered model stays registered and loads on demand)."""
        await self.repository.unload(name)
        self._forget_size(name, keep_measured=True)
        await run_blocking(give_back_freed_memory)

    async def unregister(self, name: str) -> None:
        """Unload `name` if loaded, forget it and delete its pulled files."""
        state = self.repository.find(name)
        if state.storage_uri is None:
            raise InvalidInput(
                f"parameters.unregister: model {name!r} was not registered with a storage_uri"
            )
        flight = self._flights.get(name)
        if flight is not None:
            await asyncio.wait([flight])
        if state.versions:
            await self.repository.unload(name)
        self._forget_size(name)
        self.repository.forget(name)
        store = self.store()
        async with self._pulls.setdefault(name, asyncio.Lock()):
            await run_blocking(_remove, store, name)
        self._pulls.pop(name, None)
        log.info("model unregistered", extra={"model": name})

    # --- loading ------------------------------------------------------------------------

    def loads_on_demand(self, name: str) -> bool:
        """Whether an inference for `name`, not loaded now, should load it: a model that was
        evicted, a registered one that was unloaded or registered lazily, or one whose load
        an inference began (the request joins it)."""
        state = self.repository.known(name)
        if state is None:
            return False
        if name in self._held or (name in self._flights and state.storage_uri is not None):
            return True
        if state.versions or state.state != UNAVAILABLE:
            return False
        if state.reason.startswith(EVICTED):  # a repository model too: its files are there
            return True
        return state.storage_uri is not None and state.reason.startswith(ON_DEMAND_REASONS)

    async def load(
        self, name: str, override: ModelConfig | None = None, trigger: str | None = "api"
    ) -> None:
        """Load `name` within the capacity (single flight: joins a load already running).

        A registered model that is ready is left as it is unless `override` asks for a new
        configuration; any other model is loaded again, as the repository extension does.
        """
        while True:
            flight = self._flights.get(name)
            if flight is None:
                break
            await asyncio.wait([flight])
            if override is None and trigger != "api":
                flight.result()  # the held request's answer: the load's outcome
                return
        state = self.repository.find(name)
        if state.storage_uri is not None and state.versions and override is None:
            self.repository.last_used[name] = time.time()
            return
        task = asyncio.get_running_loop().create_task(self._load(name, override, trigger))
        self._flights[name] = task
        if trigger == "request":
            self._held.add(name)
        task.add_done_callback(lambda done: self._landed(name, done))
        await asyncio.shield(task)

    def _landed(self, name: str, task: asyncio.Task[None]) -> None:
        if self._flights.get(name) is task:
            del self._flights[name]
            self._held.discard(name)
        if not task.cancelled():
            task.exception()  # retrieved: a failed load is reported to its callers, not logged

    async def _load(self, name: str, override: ModelConfig | None, trigger: str | None) -> None:
        async with self._one_load:
            state = self.repository.find(name)
            was_loaded = state.measured if state.versions else None
            need = _size(state)
            refused = misfit(need, self.capacity)
            if refused is not None:
                self._refuse(state, refused)
            plan = plan_evictions(self._residents(), need, self.capacity, keep=self._keep(name))
            await self._evict(plan.evict, name)
            if self._metrics is not None and trigger is not None:
                self._metrics.count_load(name, trigger)
            before = await run_blocking(self._probe.read)
            await self.repository.load(name, override)
            if self.limited and not _runtimes(state) <= self._primed:
                # the first load of a backend in this process also paid its one-time setup
                # (the library's import, its runtime and thread pools, CUDA handles): load it
                # again and measure that, or the first model would look far bigger than it is
                self._primed |= _runtimes(state)
                await self.repository.unload(name, reason="loaded again to measure it")
                before = await run_blocking(self._probe.read)
                await self.repository.load(name, override)
            after = await run_blocking(self._probe.read)
            measured = grown(before, after) + (was_loaded or Footprint())
            if was_loaded is None and misfit(measured, self.capacity) is not None:
                measured = await self._measure_again(name, override, measured)
            state.measured = measured
            self.repository.last_used[name] = time.time()
            if self._metrics is not None:
                self._metrics.set_model_memory(name, measured.host, measured.gpu)
            log.info(
                "model measured",
                extra={"model": name, "memory": measured.host, "gpu_memory": measured.gpu},
            )
            too_big = misfit(measured, self.capacity, what="measured")
            if too_big is not None:
                await self.repository.unload(name, reason=too_big)
                self._forget_size(name, keep_measured=True)
                await run_blocking(give_back_freed_memory)
                raise ModelLoadFailed(too_big)
            plan = plan_evictions(
                self._residents(), Footprint(), self.capacity, keep=self._keep(name)
            )
            await self._evict(plan.evict, name)

    async def _measure_again(
        self, name: str, override: ModelConfig | None, first: Footprint
    ) -> Footprint:
        """A reading over capacity, measured once more before the model is refused.

        The process's memory is one figure: what other threads allocated while the model
        loaded (another model's first requests growing its runtime's arenas) lands in this
        model's difference too, and a refused model keeps its size, so one such reading would
        refuse it for good. Noise only adds, so the smaller of the two readings is kept.
        """
        log.info("model measured again", extra={"model": name, "memory": first.host})
        await self.repository.unload(name, reason="measured again: its first reading did not fit")
        await run_blocking(give_back_freed_memory)
        before = await run_blocking(self._probe.read)
        await self.repository.load(name, override)
        second = grown(before, await run_blocking(self._probe.read))
        return Footprint(min(first.host, second.host), min(first.gpu, second.gpu))

    def _refuse(self, state: ModelState, reason: str) -> None:
        if not state.versions:
            state.state, state.reason = UNAVAILABLE, reason
            self._publish(state)
        log.error("model refused", extra={"model": state.name, "reason": reason})
        raise ModelLoadFailed(reason)

    def _keep(self, name: str) -> set[str]:
        """Models not to evict: the one loading, and those serving requests right now (their
        requests would fail); when that leaves no room, the load goes over capacity."""
        busy = {
            state.name
            for state in self.repository.loaded()
            if any(model.runner.busy() for model in state.versions.values())
        }
        return busy | {name}

    def _residents(self) -> list[Resident]:
        used = self.repository.last_used
        return [
            Resident(state.name, _size(state), used.get(state.name, 0.0))
            for state in self.repository.loaded()
        ]

    async def _evict(self, names: tuple[str, ...], incoming: str) -> None:
        for victim in names:
            reason = f"{EVICTED}: least recently used, unloaded to make room for {incoming!r}"
            before = await run_blocking(self._probe.read)
            try:
                await self.repository.unload(victim, reason=reason)
            except ModelNotReady:
                continue  # unloaded meanwhile by someone else
            freed = grown(await run_blocking(self._probe.read), before)
            state = self.repository.known(victim)
            if state is not None:
                # what unloading gave back also counts what its inferences added since its
                # load (an arena grown by the first requests): the larger figure is kept,
                # unless it would never fit: a model that was loaded and served fits, and
                # what other threads freed meanwhile is in the same reading
                kept = larger(state.measured or Footprint(), freed)
                if misfit(kept, self.capacity) is None:
                    state.measured = kept
            self._forget_size(victim, keep_measured=True)
            if self._metrics is not None:
                self._metrics.count_eviction(victim)
            log.info("model evicted", extra={"model": victim, "for": incoming})
        if names:
            await run_blocking(give_back_freed_memory)

    def _forget_size(self, name: str, keep_measured: bool = False) -> None:
        """The model no longer holds memory (the index keeps its last measurement)."""
        if self._metrics is not None:
            self._metrics.set_model_memory(name, 0, 0)
        if not keep_measured:
            state = self.repository.known(name)
            if state is not None:
                state.measured = None

    def _publish(self, state: ModelState) -> None:
        if self._metrics is not None:
            self._metrics.set_model_state(state.name, state.state)


def _size(state: ModelState) -> Footprint:
    """What the model is expected to take: measured at its last load, else declared, else 0."""
    if state.measured is not None:
        return state.measured
    return Footprint(host=state.declared or 0)


def _runtimes(state: ModelState) -> set[str]:
    """The backends (with their device or providers) a loaded model runs on."""
    kinds = set()
    for model in state.versions.values():
        backend = model.backend
        where = getattr(backend, "device", None) or getattr(backend, "providers", None) or ""
        kinds.add(f"{type(backend).__name__}:{where}")
    return kinds


def _pulled_from(store: Path, name: str) -> str | None:
    """The URI `store/name` was pulled from, when it is there."""
    source = store / _SOURCE.format(name=name)
    if not (store / name).is_dir() or not source.is_file():
        return None
    return source.read_text().strip() or None


def _pull_into(store: Path, name: str, uri: str) -> None:
    """Pull `uri` into `store/name` (blocking): into a hidden directory first, then renamed,
    so a failed pull leaves nothing half written where the model would be."""
    partial = store / _PARTIAL.format(name=name)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        pull(uri, partial, StorageSettings())
        _remove(store, name)
        partial.rename(store / name)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    (store / _SOURCE.format(name=name)).write_text(uri + "\n")


def _remove(store: Path, name: str) -> None:
    """Delete a pulled model and its source note (blocking)."""
    (store / _SOURCE.format(name=name)).unlink(missing_ok=True)
    shutil.rmtree(store / name, ignore_errors=True)
