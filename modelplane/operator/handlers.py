"""kopf wiring: thin handlers that turn watch events into reconcile requests.

kopf watches the custom resources and their children and logs in; every handler only
names the object to reconcile. No handler needs a finalizer (children carry
ownerReferences, so the garbage collector removes them) and no handler stores state
on the objects, so the operator writes nothing to a resource but its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

import kopf

from modelplane.api import GROUP
from modelplane.operator import kinds, names
from modelplane.operator.activator import Activator
from modelplane.operator.config import OperatorConfig
from modelplane.operator.events import EventRecorder
from modelplane.operator.identity import current_identity
from modelplane.operator.idler import Idler
from modelplane.operator.kinds import GRAPH, ISVC, POOL
from modelplane.operator.kube import Kube, credentials
from modelplane.operator.leader import LeaderElector, LeaseSettings
from modelplane.operator.pool_client import ReplicaClient
from modelplane.operator.queue import ReconcileQueue
from modelplane.operator.reconcile import Key, Reconciler

log = logging.getLogger(__name__)

# Children and the components' pods are watched by the label every child carries.
LABELLED = kinds.with_role("child", "observed")


def owner_of(labels: Mapping[str, str], namespace: str) -> Key | None:
    """The custom resource a child belongs to, from its labels."""
    if names.ISVC_LABEL in labels:
        return (ISVC, namespace, labels[names.ISVC_LABEL])
    if names.GRAPH_LABEL in labels:
        return (GRAPH, namespace, labels[names.GRAPH_LABEL])
    if names.POOL_LABEL in labels:
        return (POOL, namespace, labels[names.POOL_LABEL])
    return None


def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf's connection: the same credentials as the operator's own client ($KUBECONFIG now)."""
    return kopf.ConnectionInfo(**credentials())


def fingerprint(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of a custom resource can change its children: generation, labels, annotations."""
    meta = body.get("metadata") or {}
    return (
        meta.get("generation"),
        tuple(sorted((meta.get("labels") or {}).items())),
        tuple(sorted((meta.get("annotations") or {}).items())),
        meta.get("deletionTimestamp"),
    )


def child_fingerprint(body: Mapping[str, Any]) -> str:
    """What of a child the owner's status or desired state depends on, as a digest."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    summary = {
        "spec": body.get("spec"),
        "data": body.get("data"),
        "labels": meta.get("labels"),
        "annotations": meta.get("annotations"),
        "owners": meta.get("ownerReferences"),
        "conditions": [
            (c.get("type"), c.get("status"), c.get("reason"))
            for c in status.get("conditions") or []
        ],
        "ready": status.get("readyReplicas"),
        "replicas": status.get("replicas"),
        "observed": status.get("observedGeneration"),
        "balancer": status.get("loadBalancer"),
        "containers": [
            (c.get("name"), c.get("state"), c.get("lastState"))
            for key in ("initContainerStatuses", "containerStatuses")
            for c in status.get(key) or []
        ],
    }
    return hashlib.sha256(json.dumps(summary, sort_keys=True, default=str).encode()).hexdigest()


class Operator:
    """The operator's handlers, bound to one configuration and one API client."""

    def __init__(
        self,
        config: OperatorConfig,
        namespaces: Collection[str] = (),
        kube_factory: Callable[[], Kube] = Kube.from_environment,
        lease: LeaseSettings | None = None,
        replicas: ReplicaClient | None = None,
    ) -> None:
        self.config = config
        self.replicas = replicas  # how pool passes reach pool pods (HTTP unless a test says)
        self.namespaces = tuple(namespaces)
        self.lease = lease
        self._kube_factory = kube_factory
        self._kube: Kube | None = None
        self._queue: ReconcileQueue | None = None
        self._elector: LeaderElector | None = None
        self._activator: Activator | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: dict[Key, tuple[Any, ...]] = {}
        self._seen_children: dict[Key, str] = {}

    @property
    def queue(self) -> ReconcileQueue:
        """The work queue (exists between startup and cleanup)."""
        if self._queue is None:
            raise RuntimeError("the operator has not started")
        return self._queue

    # --- lifecycle --------------------------------------------------------------------

    async def startup(self, settings: kopf.OperatorSettings, **_: Any) -> None:
        """Create the client and the queue; tune kopf; start the periodic resync."""
        settings.posting.level = logging.WARNING  # Kubernetes Events only for trouble
        settings.persistence.finalizer = f"{GROUP}/operator"  # unused: no handler needs one
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=f"operator.{GROUP}"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=f"operator.{GROUP}", key="last-handled-configuration"
        )
        # Server-side selection: the API server sends only modelplane's children and pods.
        managed = f"{names.MANAGED_BY}={names.MANAGED_BY_VALUE}"
        for kind in LABELLED:
            settings.watching.label_selectors[kind.api_version, kind.plural] = managed
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        self._kube = self._kube_factory()
        if self.lease is not None:
            self._elector = LeaderElector(self._kube, self.lease, self._leading_changed)
            self._tasks.append(asyncio.create_task(self._elector.run()))
        events = EventRecorder(self._kube.create, current_identity())
        reconciler = Reconciler(
            self._kube,
            self.config,
            events=events,
            replicas=self.replicas,
            namespaces=self.namespaces,
        )
        self._queue = ReconcileQueue(reconciler, gate=self.leading)
        self._tasks.append(asyncio.create_task(self._resync_forever()))
        if self.config.activator_port:  # scale to zero: hold and wake (every replica), idle
            self._activator = Activator(self._kube, self.config, self.namespaces)
            await self._activator.start(self.config.activator_bind, self.config.activator_port)
            idler = Idler(self._kube, self.config, self.leading, self.namespaces)
            self._tasks.append(asyncio.create_task(idler.run_forever()))

    async def cleanup(self, **_: Any) -> None:
        """Stop the election and the resync, then the queue; give the Lease up; close the client."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._activator is not None:
            await self._activator.close()
        if self._queue is not None:
            await self._queue.close()
        if self._elector is not None:
            await asyncio.to_thread(self._elector.release)
        if self._kube is not None:
            self._kube.close()

    def leading(self) -> bool:
        """Whether this replica reconciles: always without a Lease, else while it holds it."""
        return self._elector is None or self._elector.leading

    def _leading_changed(self, leading: bool) -> None:
        if leading:  # what happened while another replica led was dropped here: look at all
            self._tasks.append(asyncio.create_task(self._resync_once()))

    async def _resync_forever(self) -> None:
        """Every resync period, reconcile every custom resource in scope (drift, lost events)."""
        while True:
            await asyncio.sleep(self.config.resync_seconds)
            if self.leading():
                await self._resync_once()

    async def _resync_once(self) -> None:
        try:
            for key in await asyncio.to_thread(self._all_owners):
                self.queue.schedule(key)
        except Exception:
            log.exception("resync listing failed; next try in %ss", self.config.resync_seconds)

    def _scopes(self) -> tuple[str | None, ...]:
        return self.namespaces or (None,)

    def _all_owners(self, owner_kinds: tuple[str, ...] = (ISVC, GRAPH)) -> list[Key]:
        assert self._kube is not None
        return [
            (kind, item["metadata"]["namespace"], item["metadata"]["name"])
            for kind in owner_kinds
            for scope in self._scopes()
            for item in self._kube.list(kind, scope)
        ]

    def _pools(self, namespace: str) -> list[Key]:
        """The multi-model pools in a namespace, by their StatefulSets."""
        assert self._kube is not None
        selector = f"{names.MANAGED_BY}={names.MANAGED_BY_VALUE},{names.POOL_LABEL}"
        return [
            (POOL, namespace, item["metadata"]["labels"][names.POOL_LABEL])
            for item in self._kube.list("StatefulSet", namespace, selector)
        ]

    # --- events -----------------------------------------------------------------------

    async def owner_event(
        self, *, type: str | None, body: kopf.Body, name: str, namespace: str | None, **_: Any
    ) -> None:
        """An InferenceService or InferenceGraph changed (or was listed at start)."""
        key = (body["kind"], namespace or "default", name)
        if type == "DELETED":
            self._seen.pop(key, None)
            self.queue.forget(key)
            if key[0] == ISVC:  # its pool (if it had one) unloads it
                for pool in await asyncio.to_thread(self._pools, key[1]):
                    self.queue.schedule(pool)
            return
        mark = fingerprint(body)
        if type is not None and self._seen.get(key) == mark:
            return  # only its status changed: nothing to render
        self._seen[key] = mark
        self.queue.schedule(key)

    async def child_event(
        self,
        *,
        type: str | None,
        body: kopf.Body,
        labels: kopf.Labels,
        namespace: str | None,
        name: str,
        **_: Any,
    ) -> None:
        """A child changed or vanished: its owner re-checks (restores, reads readiness).

        Changes that cannot matter (resourceVersion, managedFields, status fields that
        are not readiness) are skipped: they would only cost a no-op pass.
        """
        key = (body.get("kind", ""), namespace or "", name)
        mark = child_fingerprint(body)
        previous = self._seen_children.get(key)
        if type == "DELETED":
            self._seen_children.pop(key, None)
        else:
            self._seen_children[key] = mark
        if type is None or namespace is None or (type != "DELETED" and previous == mark):
            return  # the initial listing (owners are listed too), or nothing that matters
        owner = owner_of(labels, namespace)
        if owner is not None:
            self.queue.schedule(owner)

    async def runtime_event(self, *, type: str | None, namespace: str | None, **_: Any) -> None:
        """A (Cluster)ServingRuntime changed: InferenceServices may now select differently."""
        if type is None or not self.leading():
            return
        keys = await asyncio.to_thread(self._all_owners, (ISVC,))
        for key in keys:
            if namespace is None or key[1] == namespace:
                self.queue.schedule(key)

    # --- registry ---------------------------------------------------------------------

    def registry(self) -> kopf.OperatorRegistry:
        """A fresh kopf registry with this operator's handlers."""
        registry = kopf.OperatorRegistry()
        kopf.on.login(registry=registry)(login)
        kopf.on.startup(registry=registry)(self.startup)
        kopf.on.cleanup(registry=registry)(self.cleanup)
        for kind in kinds.with_role("owner"):
            kopf.on.event(kind.group, kind.version, kind.plural, registry=registry)(
                self.owner_event
            )
        for kind in kinds.with_role("runtime"):
            kopf.on.event(kind.group, kind.version, kind.plural, registry=registry)(
                self.runtime_event
            )
        managed = {names.MANAGED_BY: names.MANAGED_BY_VALUE}
        for kind in LABELLED:
            kopf.on.event(kind.api_version, kind.plural, labels=managed, registry=registry)(
                self.child_event
            )
        return registry
