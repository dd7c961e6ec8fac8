"""Which not-Ready reasons need someone to act, and kstatus's two conditions from Ready (pure).

kstatus (used by Flux, kpt and `kubectl wait`-style tooling) reads two abnormal-true
conditions besides `Ready`: `Reconciling` (the world does not match the spec yet, and the
operator is working on it) and `Stalled` (it cannot get there without a change). Both are
absent when they do not apply, as its convention asks. The Argo CD health check
(`charts/modelplane/health/health.lua`) reads the same `Stalled` condition, so every
GitOps tool draws the line between "still progressing" and "failed" from this one list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

RECONCILING = "Reconciling"
STALLED = "Stalled"

# Reasons that do not go away by waiting: the spec, the image, the model or its storage must
# change. A pod waiting for a node (Unschedulable), a ReplicaSet that cannot create pods yet
# (quota, FailedCreate) and a dependency not ready are still progressing: a node, a quota or
# the dependency may come. A Deployment past its progress deadline is stalled whatever the
# cause, as Kubernetes itself says.
STALLED_REASONS = frozenset(
    {
        # the spec (operator-side)
        "InvalidSpec",
        "InvalidPredictorSpec",
        "ApplyRejected",
        "ApplyForbidden",
        "NoSupportingRuntime",
        "RuntimeNotRecognized",
        "RuntimeDisabled",
        # the pods (pod_reasons)
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "StorageInitializerFailed",
        "ModelLoadFailed",
        "CrashLoopBackOff",
        "ProgressDeadlineExceeded",
    }
)

Obj = dict[str, Any]


def is_stalled(reason: str | None) -> bool:
    """Whether a not-Ready reason needs someone to act (see STALLED_REASONS)."""
    return reason in STALLED_REASONS


def kstatus_conditions(ready: Mapping[str, Any]) -> list[Obj]:
    """`Stalled` or `Reconciling` (True, with Ready's reason and message), or none when Ready."""
    if ready.get("status") == "True":
        return []
    reason = ready.get("reason") or "Progressing"
    cond: Obj = {"type": STALLED if is_stalled(reason) else RECONCILING, "status": "True"}
    cond["reason"] = reason
    if ready.get("message"):
        cond["message"] = ready["message"]
    return [cond]


def ready_of(conditions: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The Ready condition among `conditions` ({} when there is none)."""
    return next((c for c in conditions if c.get("type") == "Ready"), {})
