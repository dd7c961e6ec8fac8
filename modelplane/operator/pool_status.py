"""A model's state on a multi-model pool, and the status of its InferenceService (pure).

The pool pass reads every replica's repository index and writes what it saw of each model
(`Seen`) into the pool StatefulSet's placement annotation; the InferenceService's pass reads it
back into status (`pool_member_status`). States follow KServe's `activeModelState`, with
`Unloaded` for a model the pool's LRU evicted: still registered, so it is Ready and the next
request loads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from modelplane.api import InferenceService
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.health import kstatus_conditions
from modelplane.operator.ingress_status import Route, ingress_condition
from modelplane.operator.render.network import external_url, service_url
from modelplane.operator.status_parts import (
    PREDICTOR_READY,
    Children,
    Obj,
    condition,
    ready_condition,
    with_transition_times,
)

LOADED = "Loaded"
LOADING = "Loading"
UNLOADED = "Unloaded"
FAILED = "FailedToLoad"
PENDING = "Pending"
# Best first: a model is as available as its best copy.
STATE_ORDER = (LOADED, UNLOADED, LOADING, PENDING, FAILED)
SERVING = frozenset({LOADED, UNLOADED, LOADING})

# Reasons of a registered model that is not loaded but loads on its next request (the
# contract's amendment): evicted by LRU, registered lazily, or plainly unloaded.
LOADS_ON_DEMAND = ("evicted:", "registered:")
UNLOADED_REASON = "unloaded"


@dataclass(frozen=True)
class Seen:
    """What the last pool pass saw of one model."""

    state: str
    replicas: tuple[str, ...] = ()  # replicas it is registered on
    message: str = ""
    reason: str | None = None  # a failure's reason word (ModelLoadFailed, PoolNotReady, ...)
    location: str | None = None  # the replica of the failure
    memory: int | None = None

    def to_dict(self) -> Obj:
        """JSON form (unset fields left out)."""
        data = asdict(self)
        data["replicas"] = list(self.replicas)
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Seen:
        """Back from `to_dict` (unknown keys ignored)."""
        return cls(
            state=str(data.get("state") or PENDING),
            replicas=tuple(str(r) for r in data.get("replicas") or ()),
            message=str(data.get("message") or ""),
            reason=data.get("reason"),
            location=data.get("location"),
            memory=data.get("memory"),
        )


def replica_state(item: Mapping[str, Any] | None) -> tuple[str, str]:
    """(state, message) of a model on one replica from its index item (None: not there)."""
    if item is None:
        return PENDING, "not registered yet"
    state = str(item.get("state") or "")
    reason = str(item.get("reason") or "")
    if state == "READY":
        return LOADED, "loaded"
    if state == "LOADING":
        return LOADING, "loading"
    on_demand = reason.startswith(LOADS_ON_DEMAND) or reason in ("", UNLOADED_REASON)
    if state == "UNLOADING" or (state == "UNAVAILABLE" and on_demand):
        return UNLOADED, reason or "unloaded; the next request loads it"
    return FAILED, reason or f"state {state or 'unknown'}"


def seen_model(
    assigned: Sequence[str],
    items: Mapping[str, Mapping[str, Any] | None],
    load_errors: Mapping[str, str],
    declared: int | None,
) -> Seen:
    """One model's Seen from its assigned replicas' index items (by replica) and the errors
    of this pass's load calls (by replica)."""
    if not assigned:
        return Seen(PENDING, message="no ready replica to place it on", reason="PoolNotReady")
    states: dict[str, tuple[str, str]] = {}
    for replica in assigned:
        state, message = replica_state(items.get(replica))
        if replica in load_errors and state in (PENDING, FAILED):
            state, message = FAILED, load_errors[replica]
        states[replica] = (state, message)
    best = min(states.values(), key=lambda s: STATE_ORDER.index(s[0]))[0]
    registered = tuple(sorted(r for r, (s, _) in states.items() if s in SERVING))
    memories = [
        int(item["memory"])
        for r in assigned
        if (item := items.get(r)) is not None and isinstance(item.get("memory"), int)
    ]
    memory = max(memories) if memories else declared
    failed = [(r, m) for r, (s, m) in sorted(states.items()) if s == FAILED]
    if best == FAILED:
        where, message = failed[0]
        return Seen(FAILED, registered, message, "ModelLoadFailed", where, memory)
    message = "; ".join(f"{r}: {m}" for r, (_, m) in sorted(states.items()))
    if failed:  # another copy serves: say which one did not load, without failing
        where, _why = failed[0]
        return Seen(best, registered, message, "ModelLoadFailed", where, memory)
    return Seen(best, registered, message, None, None, memory)


def encode(replicas: Mapping[str, str], models: Mapping[str, Seen]) -> str:
    """The placement annotation: each replica's readiness and each model's Seen."""
    return json.dumps(
        {
            "replicas": dict(sorted(replicas.items())),
            "models": {k: v.to_dict() for k, v in sorted(models.items())},
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def decode(statefulset: Mapping[str, Any] | None) -> tuple[dict[str, str], dict[str, Seen]]:
    """The pool StatefulSet's placement annotation back: replicas and models ({} when none)."""
    annotations = ((statefulset or {}).get("metadata") or {}).get("annotations") or {}
    try:
        data = json.loads(annotations.get(names.PLACEMENT_ANNOTATION) or "{}")
    except ValueError:
        return {}, {}
    replicas = {str(k): str(v) for k, v in (data.get("replicas") or {}).items()}
    models = {str(k): Seen.from_dict(v) for k, v in (data.get("models") or {}).items()}
    return replicas, models


def predictor_condition(pool: str, seen: Seen | None, replicas: Mapping[str, str]) -> Obj:
    """PredictorReady of a pooled model: True while it is registered on a replica."""
    if seen is None:
        if not replicas:
            return condition(
                PREDICTOR_READY, "Unknown", "PoolPending", f"pool {pool} has not been checked yet"
            )
        waiting = ", ".join(f"{r}: {s}" for r, s in sorted(replicas.items()))
        return condition(
            PREDICTOR_READY, "Unknown", "PoolPending", f"not placed on pool {pool} yet ({waiting})"
        )
    where = ", ".join(seen.replicas) or "no replica"
    if seen.state == LOADED:
        return condition(PREDICTOR_READY, "True", "ModelLoaded", f"loaded on {where}")
    if seen.state == UNLOADED:
        return condition(
            PREDICTOR_READY,
            "True",
            "ModelUnloaded",
            f"registered on {where}, unloaded (evicted); the next request loads it",
        )
    if seen.state == LOADING:
        return condition(PREDICTOR_READY, "True", "ModelLoading", f"loading on {where}")
    if seen.state == FAILED:
        return condition(
            PREDICTOR_READY,
            "False",
            seen.reason or "ModelLoadFailed",
            f"{seen.location}: {seen.message}",
        )
    why = seen.message
    if seen.reason == "PoolNotReady":
        states = ", ".join(f"{r}: {s}" for r, s in sorted(replicas.items()))
        why += f" in {pool} ({states or 'it has no pods yet'})"
    return condition(PREDICTOR_READY, "False", seen.reason or "ModelPending", why)


def model_status(pool: str, seen: Seen | None) -> Obj:
    """modelStatus of a pooled model: KServe's fields plus `placement`."""
    state = seen.state if seen is not None else PENDING
    transition = {
        LOADED: "UpToDate",
        UNLOADED: "UpToDate",
        FAILED: "BlockedByFailedLoad",
    }.get(state, "InProgress")
    status: Obj = {
        "transitionStatus": transition,
        "states": {"activeModelState": state, "targetModelState": LOADED},
        "placement": {"pool": pool},
    }
    if seen is None:
        return status
    status["placement"] = {
        k: v
        for k, v in {"pool": pool, "replicas": list(seen.replicas), "memory": seen.memory}.items()
        if v not in (None, [])
    }
    status["copies"] = {
        "totalCopies": len(seen.replicas) if state == LOADED else 0,
        "failedCopies": 1 if seen.reason == "ModelLoadFailed" else 0,
    }
    if seen.reason is not None:
        info = {"reason": seen.reason, "message": seen.message, "location": seen.location}
        status["lastFailureInfo"] = {k: v for k, v in info.items() if v}
    return status


def pool_member_status(
    isvc: InferenceService,
    children: Children,
    runtime: str,
    statefulset: Mapping[str, Any] | None,
    config: OperatorConfig,
    now: str,
    route: Route | None = None,
) -> Obj:
    """The whole status of an InferenceService on a runtime's pool, from its children (the
    predictor Service and route), the pool StatefulSet's placement annotation and what a
    probe through the ingress found (`route`)."""
    name = isvc.metadata.name or ""
    pool = names.pool(runtime)
    replicas, models = decode(statefulset)
    seen = models.get(name)
    conditions = [predictor_condition(pool, seen, replicas)]
    conditions.append(ingress_condition(isvc, children, config, route))
    conditions.append(ready_condition(conditions))
    conditions += kstatus_conditions(conditions[-1])
    previous = [c.to_dict() for c in isvc.status.conditions] if isvc.status else []
    entry = service_url(names.component(name, names.PREDICTOR), isvc)
    status: Obj = {
        "observedGeneration": isvc.metadata.generation,
        "conditions": with_transition_times(previous, conditions, now),
        "modelStatus": model_status(pool, seen),
        "url": external_url(isvc, config) or entry,
        "address": {"url": entry},
        "components": {names.PREDICTOR: {"url": entry, "address": {"url": entry}}},
    }
    return {k: v for k, v in status.items() if v is not None}
