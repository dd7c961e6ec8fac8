"""What an InferenceService on a multi-model pool may ask for (pure).

A pooled model shares its server with others: it has no pods, containers or revisions of its
own, so the fields that shape those are refused rather than ignored. Kept out of the CRD (CEL
cannot see which runtime an InferenceService selects): the operator's status and local mode
say it.
"""

from __future__ import annotations

from modelplane.api.inference_service import InferenceService
from modelplane.api.meta import GROUP
from modelplane.api.quantity import to_int
from modelplane.storage.uri import parse

# InferenceService annotation naming a Secret whose keys become the storage puller's env.
STORAGE_SECRET_ANNOTATION = f"{GROUP}/storage-secret"

# predictor fields a pooled model cannot have, and why (by their wire names)
POD_FIELDS = (
    "labels",
    "annotations",
    "nodeSelector",
    "tolerations",
    "affinity",
    "serviceAccountName",
    "imagePullSecrets",
)
SERVER_FIELDS = ("containerConcurrency", "timeout", "batcher")
SCALING_FIELDS = ("scaleMetric", "scaleTarget", "scaleToZeroAfterSeconds")


def pool_refusals(isvc: InferenceService) -> list[str]:
    """Why the InferenceService cannot run on a multi-model pool; empty when it can."""
    spec = isvc.spec
    predictor = spec.predictor
    given = predictor.to_dict()
    why: list[str] = []
    if spec.transformer is not None:
        why.append("a transformer is not supported on a multi-model pool")
    if predictor.model is None:
        why.append("custom containers cannot run on a multi-model pool")
        return why
    if predictor.canary_traffic_percent is not None:
        why.append("canaryTrafficPercent: a pooled model has no revisions")
    if predictor.min_replicas == 0:
        why.append(
            "minReplicas 0: a pooled model is unloaded by the pool when memory runs out, "
            "not scaled to zero; use minReplicas 1 or more"
        )
    if predictor.max_replicas is not None and predictor.max_replicas != (
        predictor.min_replicas or 1
    ):
        why.append(
            "maxReplicas: a pooled model has minReplicas copies (the pool's replicas "
            "do not autoscale per model); leave it unset or equal to minReplicas"
        )
    for group, what in (
        (SCALING_FIELDS, "autoscaling"),
        (SERVER_FIELDS, "server settings are the runtime's"),
        (POD_FIELDS, "pod settings are the runtime's"),
    ):
        for field in group:
            if field in given:
                why.append(f"{field}: {what} on a multi-model pool")
    model = predictor.model
    if model.args or model.env:
        why.append("model.args and model.env: the pool's server is shared; set them on the runtime")
    if model.resources is not None:
        resources = model.resources.to_dict()
        extra = sorted(set(resources.get("requests", {})) - {"memory"})
        if extra or set(resources) - {"requests"}:
            why.append(
                "model.resources: only requests.memory (the model's size) is used on a "
                "multi-model pool; the pool's replicas have the runtime's resources"
            )
        memory = resources.get("requests", {}).get("memory")
        if memory is not None:
            try:
                to_int(memory)
            except ValueError as error:
                why.append(f"model.resources.requests.memory: {error}")
    if not model.storage_uri:
        why.append("model.storageUri is required on a multi-model pool (the pool pulls it)")
    else:
        uri = parse(model.storage_uri)
        if not uri.remote:
            why.append(
                f"storageUri {uri.scheme}://: a multi-model pool pulls models over "
                "s3://, gs:// or http(s)://"
            )
    if STORAGE_SECRET_ANNOTATION in isvc.metadata.annotations:
        why.append(
            f"{STORAGE_SECRET_ANNOTATION}: the pool's replicas are shared; give the "
            "storage credentials to the runtime's container env"
        )
    return why


def declared_memory(isvc: InferenceService) -> int | None:
    """The model's declared size in bytes (resources.requests.memory), when given."""
    model = isvc.spec.predictor.model
    if model is None or model.resources is None:
        return None
    memory = model.resources.requests.get("memory")
    return to_int(memory) if memory is not None else None


def copies(isvc: InferenceService) -> int:
    """How many pool replicas hold the model (minReplicas, default 1)."""
    return max(isvc.spec.predictor.min_replicas or 1, 1)
