"""Kubernetes Events on InferenceServices and InferenceGraphs for the transitions people act on.

`transitions` (pure) compares the Ready condition before and after a status write: became
Ready (Normal), lost readiness, or failed with a reason a person must act on (Warning: a
rejected spec, a runtime not found, a model that does not load, an image that does not pull,
a pod that does not schedule). A pass that changes nothing writes no status and so posts no
Event; `EventRecorder` also keeps at most one Event per object and reason per interval, so a
status that flips back and forth cannot flood the namespace. Events are best effort: a
refused post is logged and never fails a pass.
"""

from __future__ import annotations

import datetime
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelplane.operator.health import STALLED_REASONS, ready_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]
API_VERSION = "events.k8s.io/v1"
CONTROLLER = "serving.modelplane.io/operator"
NOTE_LIMIT = 1024  # the API refuses notes over 1 kB
# Failures worth a Warning even before the object was ever Ready; other not-Ready reasons
# (a rollout in progress, pods starting) are only news when the object was Ready before.
WARNED_REASONS = STALLED_REASONS | {"Unschedulable", "FailedCreate", "DependencyNotFound"}


@dataclass(frozen=True)
class Transition:
    """One Event to post: its type (Normal or Warning), reason and note."""

    type: str
    reason: str
    note: str


def transitions(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[Transition]:
    """The Events a status change from `before` to `after` deserves (pure)."""
    old = ready_of((before or {}).get("conditions") or [])
    new = ready_of(after.get("conditions") or [])
    old_state = (old.get("status"), old.get("reason"))
    new_state = (new.get("status"), new.get("reason"))
    if not new or old_state == new_state:
        return []
    if new.get("status") == "True":
        url = after.get("url")
        return [Transition("Normal", "Ready", "serving" + (f" at {url}" if url else ""))]
    reason = new.get("reason") or "NotReady"
    message = new.get("message") or reason
    if old.get("status") == "True":
        return [Transition("Warning", reason, f"lost readiness: {message}")]
    if reason in WARNED_REASONS:
        return [Transition("Warning", reason, message)]
    return []


def event(owner: Mapping[str, Any], change: Transition, instance: str, now: float) -> Obj:
    """The events.k8s.io/v1 Event object for one transition of `owner`."""
    meta = owner["metadata"]
    stamp = datetime.datetime.fromtimestamp(now, datetime.UTC)
    return {
        "apiVersion": API_VERSION,
        "kind": "Event",
        "metadata": {
            "name": f"{meta['name']}.{secrets.token_hex(8)}",
            "namespace": meta["namespace"],
        },
        "eventTime": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "type": change.type,
        "reason": change.reason,
        "action": "Reconcile",
        "note": change.note[:NOTE_LIMIT],
        "reportingController": CONTROLLER,
        "reportingInstance": instance,
        "regarding": {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
    }


class EventRecorder:
    """Posts transitions as Events through `create`, at most one per object and reason per
    `interval` seconds."""

    def __init__(
        self,
        create: Callable[[Obj], object],
        instance: str,
        interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._create = create
        self._instance = instance
        self._interval = interval
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    def record(self, owner: Mapping[str, Any], after: Mapping[str, Any]) -> int:
        """Post the Events of `owner`'s status going to `after`; how many were posted."""
        posted = 0
        uid = str(owner["metadata"].get("uid") or owner["metadata"]["name"])
        for change in transitions(owner.get("status"), after):
            now = self._clock()
            key = (uid, change.reason)
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                continue
            self._last[key] = now
            try:
                self._create(event(owner, change, self._instance, now))
            except Exception as error:  # best effort: an Event never fails a pass
                log.warning(
                    "event not posted", extra={"reason": change.reason, "error": str(error)}
                )
                continue
            posted += 1
        if len(self._last) > 10_000:  # forget the oldest half (objects long gone)
            for key in sorted(self._last, key=self._last.__getitem__)[:5_000]:
                del self._last[key]
        return posted
