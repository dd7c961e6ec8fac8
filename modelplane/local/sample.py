"""The bundled sample of `make run`: two small ONNX models, served alone and as a graph.

`python -m modelplane.local.sample DIR` writes DIR/models/<name>/model.onnx and DIR/sample.yaml
(two InferenceServices with file:// storage and a Sequence InferenceGraph over them).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

CLASSIFIER = "sample-classifier"
ARGMAX = "sample-argmax"
GRAPH = "sample-pipeline"
FEATURES = 4
CLASSES = 3
# A fixed linear classifier over 4 features into 3 classes (rows: features).
WEIGHTS = [
    [0.9, -0.2, -0.7],
    [0.6, 0.1, -0.7],
    [-1.2, 0.3, 0.9],
    [-1.1, -0.1, 1.2],
]
BIAS = [0.5, 0.6, -1.1]


def save_onnx(graph: Any, path: Path) -> Path:
    """Wrap an ONNX graph in a checked opset-17 model and write it to `path`."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def classifier_model(path: Path) -> Path:
    """features FP32 [-1, 4] -> probabilities FP32 [-1, 3] = softmax(features @ W + b)."""
    from onnx import TensorProto, helper

    flat = [w for row in WEIGHTS for w in row]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["logits0"]),
            helper.make_node("Add", ["logits0", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        CLASSIFIER,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [-1, FEATURES])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [-1, CLASSES])],
        initializer=[
            helper.make_tensor("W", TensorProto.FLOAT, [FEATURES, CLASSES], flat),
            helper.make_tensor("b", TensorProto.FLOAT, [CLASSES], BIAS),
        ],
    )
    return save_onnx(graph, path)


def argmax_model(path: Path) -> Path:
    """probabilities FP32 [-1, 3] -> class INT64 [-1, 1]: the most likely class."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ArgMax", ["probabilities"], ["class"], axis=1, keepdims=1)],
        ARGMAX,
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [-1, CLASSES])],
        [helper.make_tensor_value_info("class", TensorProto.INT64, [-1, 1])],
    )
    return save_onnx(graph, path)


def inference_service(name: str, model_dir: Path) -> dict[str, Any]:
    """An InferenceService for an ONNX model in a local directory."""
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "onnx"},
                    "storageUri": model_dir.resolve().as_uri(),
                }
            }
        },
    }


def pipeline() -> dict[str, Any]:
    """A Sequence graph: the classifier's probabilities feed the argmax model."""
    return {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": GRAPH},
        "spec": {
            "nodes": {
                "root": {
                    "routerType": "Sequence",
                    "steps": [
                        {"name": "classify", "serviceName": CLASSIFIER},
                        {"name": "pick", "serviceName": ARGMAX, "data": "$response"},
                    ],
                }
            }
        },
    }


def write_sample(directory: Path) -> Path:
    """Write the models and sample.yaml into directory; return the YAML's path."""
    models = directory / "models"
    classifier_model(models / CLASSIFIER / "model.onnx")
    argmax_model(models / ARGMAX / "model.onnx")
    docs = [
        inference_service(CLASSIFIER, models / CLASSIFIER),
        inference_service(ARGMAX, models / ARGMAX),
        pipeline(),
    ]
    path = directory / "sample.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Write the sample into the directory given (default: out/run)."""
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0] if args else "out/run")
    print(write_sample(directory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
