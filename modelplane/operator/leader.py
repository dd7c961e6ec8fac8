"""Leader election over a coordination.k8s.io/v1 Lease (client-go's shape): one replica reconciles.

A candidate reads the Lease every `retry` seconds. It takes the Lease when it is absent,
released (no holder) or expired: unchanged for the Lease's `leaseDurationSeconds` as this
candidate has watched it, on its own monotonic clock (so machines' clocks need not agree).
The holder renews every `renew` seconds and stops leading when it has not renewed for
`deadline` seconds, which is shorter than the duration, so it stops before anyone else may
take over. Every write carries the resourceVersion it read, so one round has one winner.
`decide` and `lease_body` are pure; `LeaderElector` is the loop around them.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from modelplane.operator.kinds import BY_KIND
from modelplane.operator.kube import Kube, KubeError

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Decision = Literal["create", "renew", "take", "wait"]


@dataclass(frozen=True)
class LeaseSettings:
    """Which Lease, who this candidate is, and the timing (client-go's defaults, scaled)."""

    namespace: str
    identity: str
    name: str = "modelplane-operator"
    duration: float = 15.0  # a silent holder loses the Lease after this long
    renew: float = 5.0  # the holder renews this often
    retry: float = 2.0  # a candidate looks this often

    @property
    def deadline(self) -> float:
        """A holder that could not renew for this long stops leading (before `duration`)."""
        return self.duration * 2 / 3


@dataclass(frozen=True)
class Seen:
    """The Lease's version a candidate last saw change, and when (monotonic seconds)."""

    version: str
    since: float


def micro_now() -> str:
    """Current time as a Kubernetes MicroTime."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decide(
    lease: Obj | None, identity: str, seen: Seen | None, now: float, duration: float
) -> tuple[Decision, Seen | None]:
    """What a candidate does with the Lease it just read, and what it has now seen."""
    if lease is None:
        return "create", None
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    if holder == identity:
        return "renew", None
    if not holder:
        return "take", None
    version = str(lease["metadata"].get("resourceVersion", ""))
    if seen is None or seen.version != version:
        return "wait", Seen(version, now)  # the holder is alive: it wrote since we looked
    if now - seen.since >= float(spec.get("leaseDurationSeconds") or duration):
        return "take", seen
    return "wait", seen


def lease_body(lease: Obj | None, settings: LeaseSettings, decision: Decision, wall: str) -> Obj:
    """The Lease to write for a decision (create, renew or take), from the one read."""
    kind = BY_KIND["Lease"]
    meta: Obj = {"name": settings.name, "namespace": settings.namespace}
    if lease is not None:
        meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
    spec: Obj = dict((lease or {}).get("spec") or {})
    spec["renewTime"] = wall
    spec["leaseDurationSeconds"] = round(settings.duration)
    if decision != "renew":
        spec["holderIdentity"] = settings.identity
        spec["acquireTime"] = wall
        spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (lease is not None)
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec}


def released(lease: Obj, wall: str) -> Obj:
    """The Lease given up by its holder: no holder, so a candidate takes it at its next look."""
    spec = {k: v for k, v in (lease.get("spec") or {}).items() if k != "holderIdentity"}
    spec.update(renewTime=wall, leaseDurationSeconds=1)
    meta = {k: lease["metadata"][k] for k in ("name", "namespace", "resourceVersion")}
    return {"apiVersion": lease["apiVersion"], "kind": "Lease", "metadata": meta, "spec": spec}


class LeaderElector:
    """Holds or waits for the Lease; tells `on_change` when this replica starts or stops leading."""

    def __init__(
        self,
        kube: Kube,
        settings: LeaseSettings,
        on_change: Callable[[bool], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], str] = micro_now,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.on_change = on_change
        self.clock = clock
        self.wall = wall
        self.leading = False
        self._seen: Seen | None = None
        self._renewed_at = 0.0

    def try_once(self) -> bool:
        """One look (blocking): whether this replica holds the Lease afterwards."""
        s = self.settings
        lease = self.kube.get("Lease", s.namespace, s.name)
        decision, self._seen = decide(lease, s.identity, self._seen, self.clock(), s.duration)
        if decision == "wait":
            return False
        body = lease_body(lease, s, decision, self.wall())
        try:
            self.kube.create(body) if lease is None else self.kube.replace(body)
        except KubeError as error:
            if error.status != 409:
                raise
            return False  # another candidate wrote first; look again next round
        return True

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            log.warning(
                "%s %s leading (Lease %s/%s)",
                self.settings.identity,
                "started" if leading else "stopped",
                self.settings.namespace,
                self.settings.name,
            )
            self.on_change(leading)

    async def run(self) -> None:
        """Look, take or renew, forever (until cancelled)."""
        while True:
            try:
                holding = await asyncio.to_thread(self.try_once)
            except Exception:
                log.exception(
                    "Lease %s/%s: look failed", self.settings.namespace, self.settings.name
                )
                if self.leading and self.clock() - self._renewed_at >= self.settings.deadline:
                    self._set(False)
            else:
                if holding:
                    self._renewed_at = self.clock()
                self._set(holding)
            await asyncio.sleep(self.settings.renew if self.leading else self.settings.retry)

    def release(self) -> None:
        """Give the Lease up (blocking; at shutdown) so a standby need not wait for it to expire."""
        if not self.leading:
            return
        self._set(False)
        s = self.settings
        try:
            lease = self.kube.get("Lease", s.namespace, s.name)
            if lease is not None and (lease.get("spec") or {}).get("holderIdentity") == s.identity:
                self.kube.replace(released(lease, self.wall()))
        except KubeError as error:
            log.warning("Lease %s/%s not released: %s", s.namespace, s.name, error)
