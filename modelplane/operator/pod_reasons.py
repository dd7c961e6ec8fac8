"""Why a component's pods do not serve: one reason read from the pods and Deployment (pure).

The status functions ask this module when a Deployment is not available. It looks at the
component's pods the way `kubectl describe pod` would be read by a person and returns the
most telling reason: a pod that cannot be scheduled (with the scheduler's message), an
image that cannot be pulled, a storage pull (init container) that failed, a model that
failed to load (the model server's termination message), a container that crashes at
start (exit code and termination message), a pod the ReplicaSet could not create.

Messages are built from stable fields only (no restart counts, no back-off durations), so
a crash loop does not rewrite the status at every restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelplane.operator.health import is_stalled
from modelplane.termination import MODEL_LOAD_PREFIX

Obj = Mapping[str, Any]

STORAGE_INITIALIZER = "storage-initializer"
IMAGE_PULL = {"ErrImagePull", "ImagePullBackOff"}
MESSAGE_LIMIT = 512


@dataclass(frozen=True)
class PodFailure:
    """Why pods of a component are not ready, as status fields want it."""

    reason: str
    message: str
    exit_code: int | None = None
    time: str | None = None
    location: str | None = None  # the pod's name

    @property
    def blocks_load(self) -> bool:
        """Whether the model cannot load until someone acts (not just waiting for a node)."""
        return is_stalled(self.reason)


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def _pull_message(container: Obj, waiting: Obj) -> str:
    """'image X cannot be pulled: <cause>' without the back-off wording that flips."""
    image = container.get("image") or "?"
    cause = waiting.get("message") or ""
    for marker in ("ErrImagePull: ", "ImagePullBackOff: "):
        if marker in cause:
            cause = cause.split(marker, 1)[1]
    if cause.startswith("Back-off pulling image"):
        cause = ""
    return _short(f"image {image} cannot be pulled" + (f": {cause}" if cause else ""))


def _terminated(container: Obj) -> Obj | None:
    """The container's latest failed termination (current state, else the last one)."""
    for key in ("state", "lastState"):
        terminated = (container.get(key) or {}).get("terminated")
        if terminated and terminated.get("exitCode", 0) != 0:
            return dict(terminated)
    return None


def _container_failure(container: Obj, pod: str, init: bool) -> PodFailure | None:
    name = container.get("name") or "?"
    waiting = (container.get("state") or {}).get("waiting") or {}
    reason = waiting.get("reason") or ""
    if reason in IMAGE_PULL or reason == "InvalidImageName":
        reason = "InvalidImageName" if reason == "InvalidImageName" else "ImagePullBackOff"
        return PodFailure(reason, _pull_message(container, waiting), location=pod)
    if reason in ("CreateContainerConfigError", "CreateContainerError"):
        message = _short(f"container {name}: {waiting.get('message') or reason}")
        return PodFailure(reason, message, location=pod)
    terminated = _terminated(container)
    if terminated is None:
        return None
    code = terminated.get("exitCode")
    said = (terminated.get("message") or "").strip()
    when = terminated.get("finishedAt")
    if said.startswith(MODEL_LOAD_PREFIX):
        return PodFailure(
            "ModelLoadFailed", _short(said[len(MODEL_LOAD_PREFIX) :]), code, when, pod
        )
    detail = f": {said}" if said else f" ({terminated.get('reason') or 'Error'})"
    if init:
        kind = "StorageInitializerFailed" if name == STORAGE_INITIALIZER else "InitContainerFailed"
        what = "model download" if name == STORAGE_INITIALIZER else f"init container {name}"
        return PodFailure(kind, _short(f"{what} exited with code {code}{detail}"), code, when, pod)
    # Also while it runs again between crashes: the reason stays put across restarts.
    message = _short(f"container {name} exited with code {code}{detail}")
    return PodFailure("CrashLoopBackOff", message, code, when, pod)


def pod_failure(pod: Obj) -> PodFailure | None:
    """Why one pod is not serving, or None when it is ready or only starting."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return None
    name = meta.get("name") or ""
    status = pod.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    if (conditions.get("Ready") or {}).get("status") == "True":
        return None
    scheduled = conditions.get("PodScheduled") or {}
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        when = scheduled.get("lastTransitionTime")
        return PodFailure("Unschedulable", _short(scheduled.get("message")), None, when, name)
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        for container in status.get(key) or []:
            failure = _container_failure(container, name, init)
            if failure is not None:
                return failure
    if status.get("phase") == "Failed":
        message = status.get("message") or status.get("reason") or "the pod failed"
        return PodFailure(status.get("reason") or "PodFailed", _short(message), location=name)
    return None


def _newest_first(pods: Iterable[Obj]) -> list[Obj]:
    def created(pod: Obj) -> tuple[str, str]:
        meta = pod.get("metadata") or {}
        return (meta.get("creationTimestamp") or "", meta.get("name") or "")

    return sorted(pods, key=created, reverse=True)


def replica_failure(deployment: Obj | None) -> PodFailure | None:
    """A ReplicaSet that cannot create pods (quota, admission), as its Deployment reports it."""
    for cond in ((deployment or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            reason = cond.get("reason") or "FailedCreate"
            return PodFailure(reason, _short(cond.get("message")), None, None, None)
    return None


def component_failure(deployment: Obj | None, pods: Iterable[Obj]) -> PodFailure | None:
    """The reason to show for a component: the newest failing pod's, else the ReplicaSet's.

    Pods of the current revision (the newest) speak first: after a fix, the old failing
    pods of the previous revision no longer decide the reason.
    """
    for pod in _newest_first(pods):
        failure = pod_failure(pod)
        if failure is not None:
            return failure
    return replica_failure(deployment)
