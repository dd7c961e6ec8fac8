"""One pass over a multi-model runtime's pool in one namespace: render, place, load, label.

Level-based like the owners' passes: it reads the InferenceServices that select the runtime,
the pool's pods and each ready pod's repository index, decides where every model goes
(`placement.place`, pure), then registers and loads (`pool_client`) or unregisters models
on the replicas until they match, labels each pod with the models it holds (their predictor
Services select on that label), and records what it saw per model in the StatefulSet's
placement annotation for the models' status (`pool_status`). The queue runs it again every
`poolCheckSeconds`, so evictions, restarts and new replicas show up without an event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from modelplane.api import (
    ClusterServingRuntime,
    InferenceService,
    NoRuntimeError,
    ServingRuntime,
    copies,
    declared_memory,
    pool_refusals,
    select_runtime,
)
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.kinds import ISVC
from modelplane.operator.kube import Kube
from modelplane.operator.placement import Model, Replica, place
from modelplane.operator.pool_client import HttpReplicas, ReplicaClient, ReplicaError
from modelplane.operator.pool_status import PENDING, Seen, decode, encode, seen_model
from modelplane.operator.render.pool import render_pool

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Index = dict[str, Obj]  # model name -> index item


@dataclass
class PoolOutcome:
    """What a pool pass asks for: its members whose recorded state changed (their status is
    due), and whether the pool exists (and so is checked again later)."""

    changed: list[str] = field(default_factory=list)
    exists: bool = False


def parse_runtimes(namespaced: Iterable[Obj], cluster: Iterable[Obj]) -> list[ServingRuntime]:
    """The valid runtimes among the listed ones (invalid ones are skipped, as in a pass)."""
    parsed: list[ServingRuntime] = []
    for cls, items in ((ServingRuntime, namespaced), (ClusterServingRuntime, cluster)):
        for item in items:
            try:
                parsed.append(cls.model_validate(item))
            except ValidationError:
                continue
    return parsed


def pool_members(
    isvcs: Iterable[Obj], runtimes: list[ServingRuntime], key: str
) -> tuple[ServingRuntime | None, list[InferenceService]]:
    """The runtime whose pool label is `key`, and the InferenceServices placed on it (those
    selecting it that a pool can run)."""
    runtime: ServingRuntime | None = None
    members: list[InferenceService] = []
    for item in isvcs:
        if item["metadata"].get("deletionTimestamp"):
            continue
        try:
            isvc = InferenceService.model_validate(item)
        except ValidationError:
            continue
        model = isvc.spec.predictor.model
        if model is None:
            continue
        try:
            chosen = select_runtime(model, runtimes)
        except NoRuntimeError:
            continue
        if not chosen.spec.multi_model or names.pool_key(chosen.metadata.name or "") != key:
            continue
        if pool_refusals(isvc):
            continue
        runtime = chosen
        members.append(isvc)
    return runtime, sorted(members, key=lambda m: m.metadata.name or "")


def pod_state(pod: Obj) -> tuple[str | None, bool]:
    """(why the pod's server cannot be asked, or None; whether the kubelet says it is Ready).

    A pod with an address that is not Ready is still asked: a server busy loading may miss a
    readiness probe, and what it holds has not changed (a starting one does not answer, and
    is left alone)."""
    meta, status = pod["metadata"], pod.get("status") or {}
    conditions: list[Obj] = status.get("conditions") or []
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), None)
    if meta.get("deletionTimestamp"):
        return "terminating", False
    if not status.get("podIP"):
        return "no address yet", False
    return None, ready == "True"


def registered(index: Index) -> dict[str, str]:
    """Models registered on a replica (they carry a storage_uri): name -> storage_uri."""
    return {
        name: str(item["storage_uri"]) for name, item in index.items() if item.get("storage_uri")
    }


class PoolPass:
    """Pool passes, one (namespace, pool key) at a time (the queue sees to that)."""

    def __init__(
        self, kube: Kube, config: OperatorConfig, replicas: ReplicaClient | None = None
    ) -> None:
        self.kube = kube
        self.config = config
        self.replicas: ReplicaClient = replicas or HttpReplicas()

    def run(self, namespace: str, key: str) -> PoolOutcome:
        """One pass over the pool labelled `key` in `namespace`."""
        runtimes = parse_runtimes(
            self.kube.list("ServingRuntime", namespace),
            self.kube.list("ClusterServingRuntime", None),
        )
        runtime, members = pool_members(self.kube.list(ISVC, namespace), runtimes, key)
        selector = f"{names.MANAGED_BY}={names.MANAGED_BY_VALUE},{names.POOL_LABEL}={key}"
        if runtime is None:
            self._remove(namespace, selector)
            return PoolOutcome()
        try:
            objects = render_pool(runtime, namespace, members, self.config)
        except ValueError as error:  # each member's own pass says why (InvalidPredictorSpec)
            log.warning("pool %s/%s cannot run: %s", namespace, key, error)
            return PoolOutcome(exists=True)
        live = {o["kind"]: self.kube.apply(o) for o in objects}
        statefulset = live["StatefulSet"]
        capacity = runtime.spec.capacity.memory_bytes if runtime.spec.capacity else 0
        pods = sorted(
            self.kube.list("Pod", namespace, selector), key=lambda p: p["metadata"]["name"]
        )
        states: dict[str, str] = {}
        indexes: dict[str, Index] = {}
        addresses: dict[str, str] = {}
        unreachable = False
        for pod in pods:
            pod_name = pod["metadata"]["name"]
            why, ready = pod_state(pod)
            if why is None:
                try:
                    items = self.replicas.index(pod["status"]["podIP"])
                    indexes[pod_name] = {str(i.get("name")): i for i in items}
                    addresses[pod_name] = pod["status"]["podIP"]
                except ReplicaError as error:
                    why = f"unreachable: {error}" if ready else "starting (not Ready)"
                    unreachable = unreachable or ready
            states[pod_name] = why or ("ready" if ready else "answers, not Ready")
        before_replicas, before = decode(statefulset)
        names_ = [m.metadata.name or "" for m in members]
        if unreachable:
            # A Ready pod that does not answer (busy, or its network): what it holds is not
            # known, so nothing moves, loads or loses its label on that account; the models
            # keep what was last seen, and the pass tries again in poolCheckSeconds.
            waiting = Seen(
                PENDING, message="waiting for the pool's replicas to answer", reason="PoolNotReady"
            )
            kept = {n: before.get(n) or waiting for n in names_}
            return self._record(namespace, statefulset, states, kept, before_replicas, before)
        replicas = [Replica(p, capacity, p in indexes) for p in states]
        uris = {
            m.metadata.name or "": (m.spec.predictor.model.storage_uri or "")
            for m in members
            if m.spec.predictor.model
        }
        declared = {m.metadata.name or "": declared_memory(m) for m in members}
        models = [
            Model(
                name,
                _measured(name, indexes) or declared[name],
                copies(member),
                _last_used(name, indexes),
            )
            for member in members
            for name in [member.metadata.name or ""]
        ]
        current = {
            name: [p for p, index in indexes.items() if registered(index).get(name) == uri]
            for name, uri in uris.items()
        }
        assignment = place(replicas, models, current)
        errors = self._converge(addresses, indexes, assignment, uris, declared)
        seen: dict[str, Seen] = {}
        for name, held in assignment.items():
            found = {p: indexes.get(p, {}).get(name) for p in held}
            seen[name] = seen_model(held, found, errors.get(name, {}), declared[name])
        self._label(pods, indexes, assignment, uris)
        return self._record(namespace, statefulset, states, seen, before_replicas, before)

    def _record(
        self,
        namespace: str,
        statefulset: Obj,
        states: dict[str, str],
        seen: dict[str, Seen],
        before_replicas: dict[str, str],
        before: dict[str, Seen],
    ) -> PoolOutcome:
        """Write what was seen to the StatefulSet's annotation; the members whose entry (or
        the replicas' states) changed are due a status."""
        annotation = encode(states, seen)
        if annotation != (statefulset["metadata"].get("annotations") or {}).get(
            names.PLACEMENT_ANNOTATION
        ):
            self.kube.patch(
                "StatefulSet",
                namespace,
                statefulset["metadata"]["name"],
                {"metadata": {"annotations": {names.PLACEMENT_ANNOTATION: annotation}}},
                field_manager=names.POOL_FIELD_MANAGER,
            )
        changed = [n for n in seen if before.get(n) != seen[n] or before_replicas != states]
        return PoolOutcome(changed=sorted(changed), exists=True)

    def _remove(self, namespace: str, selector: str) -> None:
        """No InferenceService uses the pool any more: delete its StatefulSet and Service."""
        for kind in ("StatefulSet", "Service"):
            for item in self.kube.list(kind, namespace, selector):
                log.info(
                    "deleting %s %s: no InferenceService uses the pool",
                    kind,
                    item["metadata"]["name"],
                )
                self.kube.delete(kind, namespace, item["metadata"]["name"], item["metadata"]["uid"])

    def _converge(
        self,
        addresses: Mapping[str, str],
        indexes: dict[str, Index],
        assignment: Mapping[str, tuple[str, ...]],
        uris: Mapping[str, str],
        declared: Mapping[str, int | None],
    ) -> dict[str, dict[str, str]]:
        """Unregister what a replica should not hold, register and load what it should, one
        thread per replica (a replica's loads in turn: its LRU plans one load at a time); then
        read the indexes again. Load errors by model, then replica."""
        errors: dict[str, dict[str, str]] = {}

        def one(pod: str) -> None:
            address = addresses[pod]
            have = registered(indexes[pod])
            want = {m for m, held in assignment.items() if pod in held}
            for model, uri in sorted(have.items()):
                if model not in want or uris.get(model) != uri:
                    try:
                        self.replicas.unregister(address, model)
                    except ReplicaError as error:
                        log.warning("unregistering %s on %s failed: %s", model, pod, error)
            for model in sorted(want):
                if have.get(model) == uris[model]:
                    continue  # registered: loaded, or evicted and loaded on demand
                try:
                    self.replicas.load(
                        address,
                        model,
                        uris[model],
                        declared.get(model),
                        self.config.pool_load_timeout_seconds,
                    )
                except ReplicaError as error:
                    log.warning("loading %s on %s failed: %s", model, pod, error)
                    errors.setdefault(model, {})[pod] = str(error)
            try:
                indexes[pod] = {str(i.get("name")): i for i in self.replicas.index(address)}
            except ReplicaError as error:
                log.warning("re-reading the index of %s failed: %s", pod, error)

        if addresses:
            with ThreadPoolExecutor(max_workers=min(len(addresses), 8)) as executor:
                list(executor.map(one, sorted(addresses)))
        return errors

    def _label(
        self,
        pods: Iterable[Obj],
        indexes: Mapping[str, Index],
        assignment: Mapping[str, tuple[str, ...]],
        uris: Mapping[str, str],
    ) -> None:
        """Each pod whose index was read carries the model label of exactly the assigned
        models registered on it; the others keep theirs (the Service routes to Ready pods only,
        and a pod that comes back with its models keeps serving them at once)."""
        for pod in pods:
            meta = pod["metadata"]
            if meta["name"] not in indexes:
                continue
            have = registered(indexes[meta["name"]])
            want = {
                names.model_label(m)
                for m, held in assignment.items()
                if meta["name"] in held and have.get(m) == uris.get(m)
            }
            labels = meta.get("labels") or {}
            present = {k for k in labels if k.startswith(names.MODEL_LABEL_PREFIX)}
            patch: dict[str, str | None] = {k: "true" for k in want - present}
            patch |= dict.fromkeys(present - want)
            if patch:
                self.kube.patch(
                    "Pod",
                    meta["namespace"],
                    meta["name"],
                    {"metadata": {"labels": patch}},
                    field_manager=names.POOL_FIELD_MANAGER,
                )


def _measured(model: str, indexes: Mapping[str, Index]) -> int | None:
    sizes = [
        int(item["memory"])
        for index in indexes.values()
        if (item := index.get(model)) is not None and isinstance(item.get("memory"), int)
    ]
    return max(sizes) if sizes else None


def _last_used(model: str, indexes: Mapping[str, Index]) -> float:
    times = [
        float(item["last_used"])
        for index in indexes.values()
        if (item := index.get(model)) is not None and isinstance(item.get("last_used"), int | float)
    ]
    return max(times, default=0.0)
