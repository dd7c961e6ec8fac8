"""KServe-style YAML parses once apiVersion is changed; KServe features we lack are named."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from modelplane.api import InferenceGraph, InferenceService, ServingRuntime, parse_resource
from tests.unit.api.schema_check import problems

KSERVE_STYLE = """
apiVersion: serving.modelplane.io/v1beta1
kind: InferenceService
metadata:
  name: flowers
  annotations:
    serving.kserve.io/deploymentMode: RawDeployment
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 3
    scaleMetric: rps
    scaleTarget: 50
    serviceAccountName: sa
    model:
      modelFormat: {name: onnx, version: "1"}
      runtime: kserve-tritonserver
      protocolVersion: grpc-v2
      storageUri: gs://bucket/models/flowers
      args: ["--strict-model-config=false"]
      resources:
        limits: {cpu: "1", memory: 2Gi, nvidia.com/gpu: "1"}
  transformer:
    containers:
      - name: kserve-container
        image: example/transformer:latest
        args: ["--model_name", "flowers"]
        env: [{name: STORAGE_URI, value: "gs://bucket/t"}]
---
apiVersion: serving.modelplane.io/v1alpha1
kind: InferenceGraph
metadata:
  name: dog-breed
spec:
  nodes:
    root:
      routerType: Sequence
      steps:
        - serviceName: cat-dog-classifier
          name: cat_dog_classifier
        - nodeName: breed_classifier
          name: breed_classifier
          data: $request
          condition: "predictions.0 == \\"dog\\""
    breed_classifier:
      routerType: Switch
      steps:
        - serviceUrl: http://dog-breed.default.svc.cluster.local/v2/models/dog/infer
---
apiVersion: serving.modelplane.io/v1alpha1
kind: ServingRuntime
metadata:
  name: custom-onnx
spec:
  annotations: {prometheus.kserve.io/port: "8080"}
  supportedModelFormats:
    - {name: onnx, version: "1", autoSelect: true, priority: 2}
  protocolVersions: [v2, grpc-v2]
  multiModel: false
  containers:
    - name: kserve-container
      image: example/onnx-server:1
      args: ["--model-name={{.Name}}"]
      resources: {requests: {cpu: "1", memory: 2Gi}}
"""


def test_kserve_style_documents_parse() -> None:
    docs = list(yaml.safe_load_all(KSERVE_STYLE))
    kinds = [type(parse_resource(d)) for d in docs]
    assert kinds == [InferenceService, InferenceGraph, ServingRuntime]
    assert [problems(d) for d in docs] == [[], [], []]


@pytest.mark.parametrize(
    ("predictor", "field"),
    [
        ({"sklearn": {"storageUri": "gs://b/m"}}, "sklearn"),
        ({"model": {"modelFormat": {"name": "onnx"}, "protocolVersion": "v1"}}, "protocolVersion"),
    ],
    ids=["framework-shortcut", "protocol-v1"],
)
def test_unsupported_kserve_features_are_named(predictor: dict[str, object], field: str) -> None:
    body = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m"},
        "spec": {"predictor": predictor},
    }
    with pytest.raises(ValidationError, match=field):
        parse_resource(body)
