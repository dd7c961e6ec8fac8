"""The models the samples in manifests/samples/ read, built small and real for the end-to-end tier.

Laid out as the samples' storage expects: a directory standing in for the `models` claim
(pvc://models/...), the transformer's /opt/transformer, and an S3 bucket's objects.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from modelplane.local import sample

LABELS = ["setosa", "versicolor", "virginica"]
BUCKET = "modelplane-models"
BUCKET_PREFIX = "resnet50/onnx"

LABELS_MODEL = '''
import os

import numpy as np


class Model:
    """Class probabilities -> species names (IRIS_LABELS, comma separated)."""

    def load(self):
        self.labels = os.environ["IRIS_LABELS"].split(",")

    def predict(self, inputs):
        best = np.argmax(inputs["probabilities"], axis=1)
        return {"species": np.array([self.labels[i] for i in best], dtype=object)}
'''

TRANSFORMER_MODEL = '''
import json
import os
import urllib.request

import numpy as np


class Model:
    """Pre: centimetres -> the classifier's scale. Predict: the predictor. Post: the best class."""

    def predict(self, inputs):
        features = np.asarray(inputs["features"], dtype=np.float32) / 2.0
        body = {"inputs": [{"name": "features", "shape": list(features.shape),
                            "datatype": "FP32", "data": features.ravel().tolist()}]}
        url = os.environ["PREDICTOR_URL"] + "/v2/models/" + os.environ["MODEL_NAME"] + "/infer"
        request = urllib.request.Request(url, json.dumps(body).encode(),
                                         {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            outputs = {o["name"]: o for o in json.loads(response.read())["outputs"]}
        probabilities = np.asarray(outputs["probabilities"]["data"], dtype=np.float32)
        probabilities = probabilities.reshape(outputs["probabilities"]["shape"])
        return {"probabilities": probabilities,
                "class": np.argmax(probabilities, axis=1).astype(np.int64)}
'''


SLOW_MODEL = '''
import time

import numpy as np


class Model:
    """The sum of the features, after SECONDS of waiting: requests stay in flight a while."""

    def predict(self, inputs):
        time.sleep(SECONDS)
        features = np.asarray(inputs["features"], dtype=np.float32)
        return {"total": features.sum(axis=1, keepdims=True)}
'''


@dataclass(frozen=True)
class SampleModels:
    """Where the models are."""

    claim: Path  # stands in for the `models` PersistentVolumeClaim
    transformer: Path  # stands in for /opt/transformer
    bucket: Path  # objects of s3://modelplane-models/, as files


def _yaml(directory: Path, **config: object) -> None:
    (directory / "model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def _python(directory: Path, source: str, **config: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.py").write_text(textwrap.dedent(source))
    _yaml(directory, **config)


def _torchscript(directory: Path) -> None:
    """A TorchScript linear layer over 4 features (the sample's `mnist-torchscript` slot)."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    layer = torch.nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(sample.WEIGHTS).T)
        layer.bias.copy_(torch.tensor(sample.BIAS))
    torch.jit.script(layer).save(str(directory / "model.pt"))
    _yaml(
        directory,
        backend="pytorch",
        inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
        outputs=[{"name": "logits", "datatype": "FP32", "shape": [-1, 3]}],
    )


def build(root: Path) -> SampleModels:
    """Write every model the samples read under root."""
    claim = root / "claim"
    sample.classifier_model(claim / "iris-onnx" / "model.onnx")
    sample.classifier_model(claim / "resnet50" / "onnx" / "model.onnx")
    _python(
        claim / "iris-labels",
        LABELS_MODEL,
        inputs=[{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}],
        outputs=[{"name": "species", "datatype": "BYTES", "shape": [-1]}],
    )
    _torchscript(claim / "mnist-torchscript")
    transformer = root / "transformer"
    _python(
        transformer,
        TRANSFORMER_MODEL,
        inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
        outputs=[
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
            {"name": "class", "datatype": "INT64", "shape": [-1]},
        ],
    )
    bucket = root / "bucket"
    sample.classifier_model(bucket / BUCKET_PREFIX / "model.onnx")
    return SampleModels(claim, transformer, bucket)


def upload(endpoint: str, files: dict[str, Path], timeout: float = 60.0) -> None:
    """Put `files` (object key -> file) into the samples' bucket on the S3 server at
    `endpoint` (moto), creating the bucket once the server answers."""
    import boto3

    from tests.support.wait import wait_for

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )

    def bucket_ready() -> bool:
        try:
            client.create_bucket(Bucket=BUCKET)
        except client.exceptions.BucketAlreadyOwnedByYou:
            return True
        except Exception:
            return False
        return True

    wait_for(bucket_ready, timeout=timeout, message=f"S3 server at {endpoint}")
    for key, path in sorted(files.items()):
        client.upload_file(str(path), BUCKET, key)


def files_under(root: Path) -> dict[str, Path]:
    """Every file under `root`, keyed by its path relative to it."""
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def slow_model(directory: Path, seconds: float, instances: int) -> None:
    """A Python model that answers after `seconds` on each of `instances` threads (a load of
    R requests per second keeps about R x `seconds` of them in flight): the concurrency-scaled
    InferenceService's model."""
    _python(
        directory,
        SLOW_MODEL.replace("SECONDS", repr(seconds)),
        inputs=[{"name": "features", "datatype": "FP32", "shape": [-1, 4]}],
        outputs=[{"name": "total", "datatype": "FP32", "shape": [-1, 1]}],
        instances=instances,
    )
