"""What a reconcile pass writes: the owner's children applied and pruned (the live set read
back), and its status applied when it changed (with an Event on its transitions)."""

from __future__ import annotations

import logging
from typing import Any

from modelplane.operator import names
from modelplane.operator.events import EventRecorder
from modelplane.operator.kinds import CHILD_KINDS
from modelplane.operator.kube import Kube, KubeError
from modelplane.operator.status_parts import Failure

log = logging.getLogger("modelplane.operator.reconcile")

Obj = dict[str, Any]

# API answers that mean "this child cannot be applied as rendered" -> status reason
REFUSALS = {400: "ApplyRejected", 403: "ApplyForbidden", 422: "ApplyRejected"}


class Writes:
    """A pass's writes through `Kube`; Events through the recorder when there is one."""

    def __init__(self, kube: Kube, events: EventRecorder | None = None) -> None:
        self.kube = kube
        self.events = events

    def children(
        self,
        kind: str,
        owner: Obj,
        rendered: list[Obj],
        apply: bool,
        keep: set[tuple[str, str]] | None = None,
    ) -> tuple[dict[tuple[str, str], Obj], Failure | None]:
        """Apply what was rendered, delete owned children neither rendered nor in `keep` (an
        older revision still serving); the live set.

        The live set includes the components' pods (read only, never applied or pruned).
        With apply False (the spec cannot be rendered now) children are only read. A child
        the API server refuses (invalid, forbidden) stops the pass without pruning and is
        returned as a Failure for the status; other errors propagate (and are retried).
        """
        meta = owner["metadata"]
        selector = names.owner_selector(kind, meta["name"])
        wanted = {(o["kind"], o["metadata"]["name"]) for o in rendered} | (keep or set())
        live: dict[tuple[str, str], Obj] = {}
        rejected: Failure | None = None
        if apply:
            for obj in rendered:
                try:
                    live[(obj["kind"], obj["metadata"]["name"])] = self.kube.apply(obj)
                except KubeError as error:
                    if error.status not in REFUSALS:
                        raise
                    rejected = Failure(
                        REFUSALS[error.status],
                        f"{obj['kind']} {obj['metadata']['name']}: {error.message}",
                    )
                    apply = False  # keep everything else as it is
                    break
        for child_kind in CHILD_KINDS[kind]:
            for child in self.kube.list(child_kind, meta["namespace"], selector):
                child_key = (child_kind, child["metadata"]["name"])
                owned = any(
                    ref.get("uid") == meta["uid"]
                    for ref in child["metadata"].get("ownerReferences") or []
                )
                if apply and owned and child_key not in wanted:
                    log.info("deleting %s %s: no longer rendered", child_kind, child_key[1])
                    self.kube.delete(
                        child_kind, meta["namespace"], child_key[1], child["metadata"]["uid"]
                    )
                    continue
                if owned:
                    live.setdefault(child_key, child)
        # Pods (owned by ReplicaSets) carry the same labels: read for the status's reasons.
        for pod in self.kube.list("Pod", meta["namespace"], selector):
            live[("Pod", pod["metadata"]["name"])] = pod
        return live, rejected

    def status(self, obj: Obj, status: Obj) -> bool:
        """Apply the status when it differs from the stored one; whether it did."""
        if (obj.get("status") or {}) == status:
            return False
        meta = obj["metadata"]
        self.kube.apply_status(
            {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                "status": status,
            }
        )
        if self.events is not None:
            self.events.record(obj, status)
        return True
