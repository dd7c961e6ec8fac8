"""Why a component is not Ready, read from pods in every failure state a user meets."""

from __future__ import annotations

from typing import Any

import pytest

from modelplane.api import InferenceServiceStatus
from modelplane.operator.config import OperatorConfig
from modelplane.operator.pod_reasons import PodFailure, component_failure, pod_failure
from modelplane.operator.status import isvc_status
from tests.unit.operator.test_status_table import NOW, UNAVAILABLE, deployment, isvc

Obj = dict[str, Any]
T = "2026-01-01T00:00:00Z"


def pod(
    *,
    name: str = "m-predictor-abc",
    created: str = T,
    conditions: list[Obj] | None = None,
    init: list[Obj] | None = None,
    containers: list[Obj] | None = None,
    phase: str = "Pending",
) -> Obj:
    status: Obj = {"phase": phase, "conditions": conditions or []}
    if init is not None:
        status["initContainerStatuses"] = init
    if containers is not None:
        status["containerStatuses"] = containers
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {"serving.modelplane.io/component": "predictor"},
        },
        "status": status,
    }


def waiting(name: str, reason: str, message: str = "", image: str = "img:1") -> Obj:
    return {
        "name": name,
        "image": image,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


def crashed(name: str, code: int, message: str = "", *, now_waiting: bool = True) -> Obj:
    terminated = {"exitCode": code, "reason": "Error", "finishedAt": T}
    if message:
        terminated["message"] = message
    state = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}
    if now_waiting:
        return {
            "name": name,
            "image": "img:1",
            "state": state,
            "lastState": {"terminated": terminated},
        }
    return {"name": name, "image": "img:1", "state": {"terminated": terminated}}


UNSCHEDULABLE = pod(
    conditions=[
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "lastTransitionTime": T,
            "message": '0/2 nodes are available: persistentvolumeclaim "models-pvc" not found.',
        }
    ]
)
NO_GPU = pod(
    conditions=[
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
        }
    ]
)
PULL = pod(
    containers=[waiting("kserve-container", "ErrImagePull", "rpc error: not found", "nope:1")]
)
BACKOFF = pod(
    containers=[
        waiting(
            "kserve-container",
            "ImagePullBackOff",
            'Back-off pulling image "nope:1": ErrImagePull: rpc error: not found',
            "nope:1",
        )
    ]
)
CRASH = pod(containers=[crashed("kserve-container", 2, "Traceback: boom")], phase="Running")
CRASH_NO_MESSAGE = pod(containers=[crashed("kserve-container", 137)], phase="Running")
STORAGE = pod(
    init=[crashed("storage-initializer", 1, "s3://bucket/model: NoSuchBucket", now_waiting=False)],
    containers=[waiting("kserve-container", "PodInitializing")],
)
LOAD = pod(
    containers=[crashed("kserve-container", 1, "ModelLoadFailed: model m: not an ONNX file")],
    phase="Running",
)
CONFIG = pod(
    containers=[waiting("kserve-container", "CreateContainerConfigError", 'secret "s3" not found')]
)
STARTING = pod(containers=[waiting("kserve-container", "ContainerCreating")])
READY = pod(conditions=[{"type": "Ready", "status": "True"}], phase="Running")


@pytest.mark.parametrize(
    ("the_pod", "expected"),
    [
        (
            UNSCHEDULABLE,
            PodFailure(
                "Unschedulable",
                '0/2 nodes are available: persistentvolumeclaim "models-pvc" not found.',
                None,
                T,
                "m-predictor-abc",
            ),
        ),
        (
            NO_GPU,
            PodFailure(
                "Unschedulable",
                "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                location="m-predictor-abc",
            ),
        ),
        (
            PULL,
            PodFailure(
                "ImagePullBackOff",
                "image nope:1 cannot be pulled: rpc error: not found",
                location="m-predictor-abc",
            ),
        ),
        (
            BACKOFF,
            PodFailure(
                "ImagePullBackOff",
                "image nope:1 cannot be pulled: rpc error: not found",
                location="m-predictor-abc",
            ),
        ),
        (
            CRASH,
            PodFailure(
                "CrashLoopBackOff",
                "container kserve-container exited with code 2: Traceback: boom",
                2,
                T,
                "m-predictor-abc",
            ),
        ),
        (
            CRASH_NO_MESSAGE,
            PodFailure(
                "CrashLoopBackOff",
                "container kserve-container exited with code 137 (Error)",
                137,
                T,
                "m-predictor-abc",
            ),
        ),
        (
            STORAGE,
            PodFailure(
                "StorageInitializerFailed",
                "model download exited with code 1: s3://bucket/model: NoSuchBucket",
                1,
                T,
                "m-predictor-abc",
            ),
        ),
        (
            LOAD,
            PodFailure("ModelLoadFailed", "model m: not an ONNX file", 1, T, "m-predictor-abc"),
        ),
        (
            CONFIG,
            PodFailure(
                "CreateContainerConfigError",
                'container kserve-container: secret "s3" not found',
                location="m-predictor-abc",
            ),
        ),
        (STARTING, None),
        (READY, None),
    ],
    ids=[
        "missing-pvc",
        "no-gpu",
        "err-image-pull",
        "image-pull-backoff",
        "crash-loop",
        "crash-without-message",
        "storage-pull",
        "model-load",
        "missing-secret",
        "starting",
        "ready",
    ],
)
def test_pod_failure_table(the_pod: Obj, expected: PodFailure | None) -> None:
    assert pod_failure(the_pod) == expected


def test_image_pull_and_backoff_give_one_reason_so_the_status_does_not_flip() -> None:
    assert pod_failure(PULL) == pod_failure(BACKOFF)


def test_crash_reason_is_the_same_between_restarts() -> None:
    running_again = pod(
        containers=[
            {
                "name": "kserve-container",
                "image": "img:1",
                "state": {"running": {"startedAt": T}},
                "lastState": {"terminated": {"exitCode": 2, "finishedAt": T, "message": "boom"}},
            }
        ],
        phase="Running",
    )
    assert pod_failure(running_again) == pod_failure(
        pod(containers=[crashed("kserve-container", 2, "boom")], phase="Running")
    )


def test_newest_pod_speaks_for_the_component() -> None:
    old = {**CRASH, "metadata": {**CRASH["metadata"], "name": "old", "creationTimestamp": T}}
    new = {
        **PULL,
        "metadata": {
            **PULL["metadata"],
            "name": "new",
            "creationTimestamp": "2026-01-02T00:00:00Z",
        },
    }
    failure = component_failure(None, [old, new])
    assert failure is not None and failure.reason == "ImagePullBackOff"


def test_replicaset_that_cannot_create_pods() -> None:
    dep = deployment("m-predictor", UNAVAILABLE, ("ReplicaFailure", "True", "FailedCreate"))
    failure = component_failure(dep, [])
    assert failure == PodFailure("FailedCreate", "ReplicaFailure FailedCreate")


def test_terminating_pod_is_not_a_reason() -> None:
    gone = {**CRASH, "metadata": {**CRASH["metadata"], "deletionTimestamp": T}}
    assert pod_failure(gone) is None


@pytest.mark.parametrize(
    ("the_pod", "reason", "transition"),
    [
        (UNSCHEDULABLE, "Unschedulable", "InProgress"),
        (PULL, "ImagePullBackOff", "BlockedByFailedLoad"),
        (CRASH, "CrashLoopBackOff", "BlockedByFailedLoad"),
        (STORAGE, "StorageInitializerFailed", "BlockedByFailedLoad"),
        (LOAD, "ModelLoadFailed", "BlockedByFailedLoad"),
    ],
)
def test_isvc_status_carries_the_pod_reason(the_pod: Obj, reason: str, transition: str) -> None:
    children = {
        ("Deployment", "m-predictor"): deployment("m-predictor", UNAVAILABLE),
        ("Pod", the_pod["metadata"]["name"]): the_pod,
    }
    status = isvc_status(isvc(), children, OperatorConfig(), NOW)
    found = {c["type"]: c for c in status["conditions"]}
    failure = pod_failure(the_pod)
    assert failure is not None
    assert (found["PredictorReady"]["reason"], found["Ready"]["reason"]) == (reason, reason)
    assert found["PredictorReady"]["message"] == failure.message
    assert found["Ready"]["message"] == f"PredictorReady: {failure.message}"
    model = status["modelStatus"]
    assert model["transitionStatus"] == transition
    assert model["lastFailureInfo"]["reason"] == reason
    assert model["lastFailureInfo"]["message"] == failure.message
    if failure.exit_code is not None:
        assert model["lastFailureInfo"]["exitCode"] == failure.exit_code
    # kstatus: a failed load needs someone to act (Stalled); a pod waiting for a node does not
    kstatus = "Stalled" if transition == "BlockedByFailedLoad" else "Reconciling"
    assert (found[kstatus]["status"], found[kstatus]["reason"]) == ("True", reason)
    assert {"Stalled", "Reconciling"} - {kstatus} - set(found) == {"Stalled", "Reconciling"} - {
        kstatus
    }
    assert InferenceServiceStatus.model_validate(status).to_dict() == status


def test_pods_of_another_component_do_not_speak_for_the_predictor() -> None:
    transformer_pod = {
        **CRASH,
        "metadata": {**CRASH["metadata"], "labels": {"serving.modelplane.io/component": "t"}},
    }
    children = {
        ("Deployment", "m-predictor"): deployment("m-predictor", UNAVAILABLE),
        ("Pod", "x"): transformer_pod,
    }
    status = isvc_status(isvc(), children, OperatorConfig(), NOW)
    ready = next(c for c in status["conditions"] if c["type"] == "PredictorReady")
    assert ready["reason"] == "MinimumReplicasUnavailable"
