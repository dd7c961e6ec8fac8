"""Model storage of a predictor pod: PVC mount or puller init container (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.meta import Obj
from modelplane.operator.render.pod import LOG_ON_ERROR, restricted
from modelplane.storage.uri import parse

VOLUME = "model-storage"


@dataclass
class ModelStorage:
    """What a pod needs to see its model at `model_dir`."""

    model_dir: str = names.MODEL_DIR
    volumes: list[Obj] = field(default_factory=list)
    mounts: list[Obj] = field(default_factory=list)
    init_containers: list[Obj] = field(default_factory=list)


def model_storage(
    storage_uri: str | None, config: OperatorConfig, secret: str | None = None
) -> ModelStorage:
    """Volumes, mounts and init containers for a storageUri.

    pvc://claim/path mounts the claim read-only at /mnt/models (subPath path);
    s3://, gs://, http(s):// are pulled into an emptyDir by `modelplane storage pull`;
    file:// or a bare path is used in place (baked into the image, or local mode).
    """
    if not storage_uri:
        return ModelStorage()
    uri = parse(storage_uri)
    if uri.remote:
        return ModelStorage(
            volumes=[{"name": VOLUME, "emptyDir": {}}],
            mounts=[{"name": VOLUME, "mountPath": names.MODEL_DIR, "readOnly": True}],
            init_containers=[puller(storage_uri, config, secret)],
        )
    if uri.scheme == "pvc":
        mount: Obj = {"name": VOLUME, "mountPath": names.MODEL_DIR, "readOnly": True}
        if uri.key:
            mount["subPath"] = uri.key
        volume = {
            "name": VOLUME,
            "persistentVolumeClaim": {"claimName": uri.bucket, "readOnly": True},
        }
        return ModelStorage(volumes=[volume], mounts=[mount])
    return ModelStorage(model_dir=uri.key)  # file:// or a bare path


def storage_env(config: OperatorConfig) -> list[Obj]:
    """The puller's settings from the operator's configuration (S3 and GCS endpoints), as env
    of the init container or of a pool's server, which pulls in its own process."""
    return [
        {"name": key, "value": value}
        for key, value in (
            ("MODELPLANE_STORAGE_S3_ENDPOINT", config.storage_s3_endpoint),
            ("MODELPLANE_STORAGE_S3_REGION", config.storage_s3_region),
            ("MODELPLANE_STORAGE_GCS_ENDPOINT", config.storage_gcs_endpoint),
        )
        if value
    ]


def puller(storage_uri: str, config: OperatorConfig, secret: str | None) -> Obj:
    """The init container that downloads the model into the shared emptyDir."""
    env = storage_env(config)
    container: Obj = {
        "name": "storage-initializer",
        "image": config.storage_initializer_image,
        "command": ["modelplane", "storage", "pull", storage_uri, names.MODEL_DIR],
        "resources": config.storage_initializer_resources,
        "volumeMounts": [{"name": VOLUME, "mountPath": names.MODEL_DIR}],
        "terminationMessagePolicy": LOG_ON_ERROR,  # the puller's last log lines say why
    }
    if env:
        container["env"] = env
    if secret:
        container["envFrom"] = [{"secretRef": {"name": secret, "optional": False}}]
    if config.image_pull_policy:
        container["imagePullPolicy"] = config.image_pull_policy
    return restricted(container)
