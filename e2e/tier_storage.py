"""The samples' storage on the real node: an S3 server (moto) and an HTTP server on the
node's storage address filled with the models, the Kubernetes objects for the `models` claim
and the S3 credentials, and model files the pods' user can read."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from e2e import sample_models
from tests.support import node_plan
from tests.support.ports import free_port
from tests.support.sample_storage import sample_storage

S3_SECRET = "s3-credentials"


def start_storage(
    tier_root: Path, models: sample_models.SampleModels
) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    """moto (S3) and a static HTTP server on the node's storage address, filled with models."""
    address = node_plan.STORAGE_IP
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert moto, "moto_server missing: it comes with the dev extra (moto[server])"
    s3_port, http_port = free_port(), free_port()
    log = (tier_root / "storage.log").open("ab")
    procs = [
        subprocess.Popen([moto, "-H", address, "-p", str(s3_port)], stdout=log, stderr=log),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                address,
                "--directory",
                str(models.claim),
                str(http_port),
            ],
            stdout=log,
            stderr=log,
        ),
    ]
    endpoint = f"http://{address}:{s3_port}"
    files = sample_models.files_under(models.bucket)
    files["iris-onnx/model.onnx"] = models.claim / "iris-onnx" / "model.onnx"
    sample_models.upload(endpoint, files)
    return procs, endpoint, f"http://{address}:{http_port}"


def storage_objects(namespace: str, claim_dir: Path) -> dict[str, Any]:
    """The samples' storage (the `models` claim on a hostPath volume at `claim_dir`, their
    ServiceAccount) and the S3 credentials the `iris-s3` storage initializer reads."""
    objects = sample_storage(namespace, str(claim_dir))
    objects["items"].append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": S3_SECRET, "namespace": namespace},
            "stringData": {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            },
        }
    )
    return objects


def open_permissions(root: Path) -> None:
    """Model files readable by the pods' uid 10001 (pytest's temp dirs are private)."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
