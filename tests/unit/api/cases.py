"""Invalid objects, one per validation rule, shared by the model, schema and API-server tests."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Literal

ISVC = "serving.modelplane.io/v1beta1"
ALPHA = "serving.modelplane.io/v1alpha1"
MODEL: dict[str, Any] = {"modelFormat": {"name": "onnx"}, "storageUri": "pvc://models/m"}
CONTAINER: dict[str, Any] = {"name": "server", "image": "modelplane/model-server:0.1.0"}
POOL: dict[str, Any] = {"capacity": {"memory": "1Gi"}}


def isvc(predictor: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """An InferenceService named m with that predictor."""
    return {
        "apiVersion": ISVC,
        "kind": "InferenceService",
        "metadata": {"name": "m"},
        "spec": {"predictor": copy.deepcopy(predictor), **spec},
    }


def graph(nodes: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """An InferenceGraph named g with those nodes."""
    return {
        "apiVersion": ALPHA,
        "kind": "InferenceGraph",
        "metadata": {"name": "g"},
        "spec": {"nodes": copy.deepcopy(nodes), **spec},
    }


def root(router_type: str, *steps: dict[str, Any]) -> dict[str, Any]:
    """Nodes with just a root node."""
    return {"root": {"routerType": router_type, "steps": list(steps)}}


def runtime(spec: dict[str, Any], kind: str = "ServingRuntime") -> dict[str, Any]:
    """A (Cluster)ServingRuntime named r."""
    return {"apiVersion": ALPHA, "kind": kind, "metadata": {"name": "r"}, "spec": spec}


@dataclass(frozen=True)
class Case:
    """An invalid object, the field a rejection must name, and the rule's message if custom."""

    id: str
    body: dict[str, Any]
    field: str  # as the API server names it: spec.nodes[root].steps[0]
    layer: Literal[
        "schema", "cel"
    ]  # schema: OpenAPI types/enums/bounds; cel: x-kubernetes-validations
    message: str | None = None  # regex the rejection must contain (CEL rule messages)

    @property
    def dotted(self) -> str:
        """The field as a dotted path: spec.nodes.root.steps.0."""
        return re.sub(r"\[([^\]]+)\]", r".\1", self.field)


SPLIT_70 = {"serviceName": "a", "weight": 70}

CASES: list[Case] = [
    # InferenceService: CEL rules
    Case(
        "predictor-model-and-containers",
        isvc({"model": MODEL, "containers": [CONTAINER]}),
        "spec.predictor",
        "cel",
        "exactly one of model or containers",
    ),
    Case(
        "predictor-neither-model-nor-containers",
        isvc({"minReplicas": 1}),
        "spec.predictor",
        "cel",
        "exactly one of model or containers",
    ),
    Case(
        "predictor-min-above-max",
        isvc({"model": MODEL, "minReplicas": 3, "maxReplicas": 2}),
        "spec.predictor.minReplicas",
        "cel",
        "minReplicas must be less than or equal to maxReplicas",
    ),
    Case(
        "transformer-min-above-max",
        isvc(
            {"model": MODEL},
            transformer={"containers": [CONTAINER], "minReplicas": 4, "maxReplicas": 1},
        ),
        "spec.transformer.minReplicas",
        "cel",
        "minReplicas must be less than or equal to maxReplicas",
    ),
    Case(
        "predictor-rps-needs-a-target",
        isvc({"model": MODEL, "maxReplicas": 3, "scaleMetric": "rps"}),
        "spec.predictor.scaleTarget",
        "cel",
        "rps and concurrency need scaleTarget",
    ),
    Case(
        "custom-containers-rps",
        isvc({"containers": [CONTAINER], "maxReplicas": 3, "scaleMetric": "rps", "scaleTarget": 5}),
        "spec.predictor.scaleMetric",
        "cel",
        "need a model predictor",
    ),
    Case(
        "transformer-concurrency",
        isvc(
            {"model": MODEL},
            transformer={
                "containers": [CONTAINER],
                "maxReplicas": 3,
                "scaleMetric": "concurrency",
                "scaleTarget": 4,
            },
        ),
        "spec.transformer.scaleMetric",
        "cel",
        "a transformer scales on cpu or memory",
    ),
    Case(
        "idle-seconds-without-min-zero",
        isvc({"model": MODEL, "scaleToZeroAfterSeconds": 60}),
        "spec.predictor.scaleToZeroAfterSeconds",
        "cel",
        "scaleToZeroAfterSeconds needs minReplicas: 0",
    ),
    Case(
        "custom-container-at-zero",
        isvc({"containers": [CONTAINER], "minReplicas": 0}),
        "spec.predictor.minReplicas",
        "cel",
        "needs a model predictor",
    ),
    Case(
        "transformer-at-zero",
        isvc({"model": MODEL}, transformer={"containers": [CONTAINER], "minReplicas": 0}),
        "spec.transformer.minReplicas",
        "cel",
        "only a predictor scales to zero",
    ),
    Case(
        "canary-on-transformer",
        isvc(
            {"model": MODEL},
            transformer={"containers": [CONTAINER], "canaryTrafficPercent": 20},
        ),
        "spec.transformer.canaryTrafficPercent",
        "cel",
        "only supported on the predictor",
    ),
    Case(
        "isvc-name-starts-with-digit",
        {**isvc({"model": MODEL}), "metadata": {"name": "1-model"}},
        "metadata.name",
        "cel",
        "DNS-1035 label",
    ),
    # InferenceService: schema
    Case(
        "canary-above-100",
        isvc({"model": MODEL, "canaryTrafficPercent": 101}),
        "spec.predictor.canaryTrafficPercent",
        "schema",
    ),
    Case(
        "canary-negative",
        isvc({"model": MODEL, "canaryTrafficPercent": -1}),
        "spec.predictor.canaryTrafficPercent",
        "schema",
    ),
    Case(
        "unknown-predictor-field",
        isvc({"model": MODEL, "replicas": 2}),
        "spec.predictor.replicas",
        "schema",
    ),
    Case(
        "unknown-spec-field",
        isvc({"model": MODEL}, explainer={"containers": [CONTAINER]}),
        "spec.explainer",
        "schema",
    ),
    Case(
        "min-replicas-wrong-type",
        isvc({"model": MODEL, "minReplicas": "two"}),
        "spec.predictor.minReplicas",
        "schema",
    ),
    Case(
        "storage-uri-unsupported-scheme",
        isvc({"model": {**MODEL, "storageUri": "ftp://host/m"}}),
        "spec.predictor.model.storageUri",
        "schema",
    ),
    Case(
        "scale-metric-unknown",
        isvc({"model": MODEL, "scaleMetric": "gpu"}),
        "spec.predictor.scaleMetric",
        "schema",
    ),
    Case(
        "protocol-v1-unsupported",
        isvc({"model": {**MODEL, "protocolVersion": "v1"}}),
        "spec.predictor.model.protocolVersion",
        "schema",
    ),
    Case(
        "model-format-missing",
        isvc({"model": {"storageUri": "pvc://models/m"}}),
        "spec.predictor.model.modelFormat",
        "schema",
    ),
    Case(
        "batcher-zero-batch",
        isvc({"model": MODEL, "batcher": {"maxBatchSize": 0}}),
        "spec.predictor.batcher.maxBatchSize",
        "schema",
    ),
    Case(
        "container-image-wrong-type",
        isvc({"containers": [{"name": "c", "image": 5}]}),
        "spec.predictor.containers[0].image",
        "schema",
    ),
    Case(
        "resources-limits-wrong-type",
        isvc({"model": {**MODEL, "resources": {"limits": ["1"]}}}),
        "spec.predictor.model.resources.limits",
        "schema",
    ),
    Case(
        "transformer-without-containers",
        isvc({"model": MODEL}, transformer={"minReplicas": 1}),
        "spec.transformer.containers",
        "schema",
    ),
    Case(
        "isvc-without-spec",
        {"apiVersion": ISVC, "kind": "InferenceService", "metadata": {"name": "m"}},
        "spec",
        "schema",
    ),
    # InferenceGraph: CEL rules
    Case(
        "graph-without-root",
        graph({"first": {"routerType": "Sequence", "steps": [{"serviceName": "a"}]}}),
        "spec.nodes",
        "cel",
        "must contain a node named root",
    ),
    Case(
        "router-idle-seconds-without-zero",
        graph(root("Sequence", {"serviceName": "a"}), scaleToZeroAfterSeconds=30),
        "spec.scaleToZeroAfterSeconds",
        "cel",
        "scaleToZeroAfterSeconds needs minReplicas: 0",
    ),
    Case(
        "router-concurrency-needs-a-target",
        graph(root("Sequence", {"serviceName": "a"}), maxReplicas=2, scaleMetric="concurrency"),
        "spec.scaleTarget",
        "cel",
        "rps and concurrency need scaleTarget",
    ),
    Case(
        "step-two-targets",
        graph(
            root(
                "Sequence", {"serviceName": "a", "serviceUrl": "http://a.default/v2/models/a/infer"}
            )
        ),
        "spec.nodes[root].steps[0]",
        "cel",
        "exactly one of nodeName, serviceName or serviceUrl",
    ),
    Case(
        "step-no-target",
        graph(root("Sequence", {"name": "lonely"})),
        "spec.nodes[root].steps[0]",
        "cel",
        "exactly one of nodeName, serviceName or serviceUrl",
    ),
    Case(
        "splitter-weight-missing",
        graph(root("Splitter", SPLIT_70, {"serviceName": "b"})),
        "spec.nodes[root].steps",
        "cel",
        "every step of a Splitter node needs a weight",
    ),
    Case(
        "splitter-weights-not-100",
        graph(root("Splitter", SPLIT_70, {"serviceName": "b", "weight": 20})),
        "spec.nodes[root].steps",
        "cel",
        "must sum to 100",
    ),
    Case(
        "step-names-not-unique",
        graph(
            root("Ensemble", {"name": "x", "serviceName": "a"}, {"name": "x", "serviceName": "b"})
        ),
        "spec.nodes[root].steps",
        "cel",
        "step names must be unique",
    ),
    Case(
        "node-name-dangling",
        graph(root("Sequence", {"nodeName": "missing"})),
        "spec.nodes",
        "cel",
        "nodeName must name a node",
    ),
    Case(
        "graph-min-above-max",
        graph(root("Sequence", {"serviceName": "a"}), minReplicas=2, maxReplicas=1),
        "spec.minReplicas",
        "cel",
        "minReplicas must be less than or equal to maxReplicas",
    ),
    Case(
        "graph-name-too-long",
        {**graph(root("Sequence", {"serviceName": "a"})), "metadata": {"name": "g" * 64}},
        "metadata.name",
        "cel",
        "DNS-1035 label",
    ),
    # InferenceGraph: schema
    Case(
        "router-type-unknown",
        graph(root("Random", {"serviceName": "a"})),
        "spec.nodes[root].routerType",
        "schema",
    ),
    Case(
        "step-weight-above-100",
        graph(root("Splitter", {"serviceName": "a", "weight": 150})),
        "spec.nodes[root].steps[0].weight",
        "schema",
    ),
    Case(
        "step-data-unknown",
        graph(root("Sequence", {"serviceName": "a", "data": "$everything"})),
        "spec.nodes[root].steps[0].data",
        "schema",
    ),
    Case(
        "step-dependency-unknown",
        graph(root("Sequence", {"serviceName": "a", "dependency": "Maybe"})),
        "spec.nodes[root].steps[0].dependency",
        "schema",
    ),
    Case(
        "node-without-steps",
        graph({"root": {"routerType": "Sequence", "steps": []}}),
        "spec.nodes[root].steps",
        "schema",
    ),
    Case(
        "unknown-step-field",
        graph(root("Sequence", {"serviceName": "a", "retry": 3})),
        "spec.nodes[root].steps[0].retry",
        "schema",
    ),
    Case(  # the server's `minimum` truncates 0.001 to 0 for an integer value: a CEL rule
        "step-timeout-zero",
        graph(root("Sequence", {"serviceName": "a", "timeout": 0})),
        "spec.nodes[root].steps[0].timeout",
        "cel",
    ),
    Case(
        "step-timeout-below-minimum",
        graph(root("Sequence", {"serviceName": "a", "timeout": 0.0001})),
        "spec.nodes[root].steps[0].timeout",
        "schema",
    ),
    Case(
        "step-timeout-string",
        graph(root("Sequence", {"serviceName": "a", "timeout": "2s"})),
        "spec.nodes[root].steps[0].timeout",
        "schema",
    ),
    Case(
        "step-retries-negative",
        graph(root("Sequence", {"serviceName": "a", "retries": -1})),
        "spec.nodes[root].steps[0].retries",
        "schema",
    ),
    Case(
        "step-retries-above-max",
        graph(root("Sequence", {"serviceName": "a", "retries": 11})),
        "spec.nodes[root].steps[0].retries",
        "schema",
    ),
    Case(
        "step-retries-not-integer",
        graph(root("Sequence", {"serviceName": "a", "retries": 1.5})),
        "spec.nodes[root].steps[0].retries",
        "schema",
    ),
    Case(
        "step-mapping-empty",
        graph(root("Sequence", {"serviceName": "a", "mapping": {}})),
        "spec.nodes[root].steps[0].mapping",
        "schema",
    ),
    Case(
        "step-mapping-value-not-string",
        graph(root("Sequence", {"serviceName": "a", "mapping": {"y": 1}})),
        "spec.nodes[root].steps[0].mapping.y",
        "schema",
    ),
    Case(
        "step-mapping-not-object",
        graph(root("Sequence", {"serviceName": "a", "mapping": ["y", "x"]})),
        "spec.nodes[root].steps[0].mapping",
        "schema",
    ),
    Case(
        "step-protocol-unknown",
        graph(root("Sequence", {"serviceName": "a", "protocol": "http2"})),
        "spec.nodes[root].steps[0].protocol",
        "schema",
    ),
    Case(
        "graph-protocol-unknown",
        graph(root("Sequence", {"serviceName": "a"}), protocol="GRPC"),
        "spec.protocol",
        "schema",
    ),
    Case(
        "step-grpc-url-without-port",
        graph(root("Sequence", {"serviceUrl": "grpc://m.default/v2/models/m"})),
        "spec.nodes[root].steps[0].serviceUrl",
        "schema",
    ),
    Case(
        "step-protocol-grpc-with-http-url",
        graph(root("Sequence", {"serviceUrl": "http://m/v2/models/m/infer", "protocol": "grpc"})),
        "spec.nodes[root].steps[0]",
        "cel",
        "must agree with serviceUrl's scheme",
    ),
    Case(
        "step-protocol-rest-with-grpc-url",
        graph(root("Sequence", {"serviceUrl": "grpc://m:8081/v2/models/m", "protocol": "rest"})),
        "spec.nodes[root].steps[0]",
        "cel",
        "must agree with serviceUrl's scheme",
    ),
    Case(
        "graph-http-edge-unknown",
        graph(root("Sequence", {"serviceName": "a"}), httpEdge="fibers"),
        "spec.httpEdge",
        "schema",
    ),
    Case(
        "step-protocol-on-a-node-step",
        {
            **graph(
                {
                    "root": {
                        "routerType": "Sequence",
                        "steps": [{"nodeName": "n", "protocol": "rest"}],
                    },
                    "n": {"routerType": "Sequence", "steps": [{"serviceName": "a"}]},
                }
            )
        },
        "spec.nodes[root].steps[0]",
        "cel",
        "protocol applies to serviceName and serviceUrl steps",
    ),
    # ServingRuntime / ClusterServingRuntime: schema
    Case(
        "runtime-without-containers",
        runtime({"supportedModelFormats": [{"name": "onnx"}]}),
        "spec.containers",
        "schema",
    ),
    Case(
        "runtime-priority-zero",
        runtime(
            {"supportedModelFormats": [{"name": "onnx", "priority": 0}], "containers": [CONTAINER]}
        ),
        "spec.supportedModelFormats[0].priority",
        "schema",
    ),
    Case(
        "runtime-disabled-wrong-type",
        runtime({"disabled": "yes", "containers": [CONTAINER]}, "ClusterServingRuntime"),
        "spec.disabled",
        "schema",
    ),
    Case(
        "runtime-unknown-field",
        runtime({"containers": [CONTAINER], "minReplicas": 2}, "ClusterServingRuntime"),
        "spec.minReplicas",
        "schema",
    ),
    Case(
        "runtime-pool-replicas-zero",
        runtime({"containers": [CONTAINER], "multiModel": True, "replicas": 0, **POOL}),
        "spec.replicas",
        "schema",
    ),
    # ServingRuntime / ClusterServingRuntime: CEL (the multi-model pool's fields)
    Case(
        "runtime-replicas-without-multimodel",
        runtime({"containers": [CONTAINER], "replicas": 2}, "ClusterServingRuntime"),
        "spec.replicas",
        "cel",
        "replicas is a setting of a shared pool: it needs multiModel: true",
    ),
    Case(
        "runtime-capacity-without-multimodel",
        runtime({"containers": [CONTAINER], **POOL}),
        "spec.capacity",
        "cel",
        "capacity is a setting of a shared pool: it needs multiModel: true",
    ),
    Case(
        "runtime-multimodel-without-capacity",
        runtime({"containers": [CONTAINER], "multiModel": True}),
        "spec.multiModel",
        "cel",
        "multiModel: true needs capacity.memory",
    ),
    Case(
        "runtime-pool-memory-not-a-quantity",
        runtime({"containers": [CONTAINER], "multiModel": True, "capacity": {"memory": "lots"}}),
        "spec.capacity.memory",
        "cel",
        "must be a positive quantity",
    ),
    Case(
        "runtime-pool-gpu-memory-zero",
        runtime(
            {
                "containers": [CONTAINER],
                "multiModel": True,
                "capacity": {"memory": "1Gi", "gpuMemory": 0},
            }
        ),
        "spec.capacity.gpuMemory",
        "cel",
        "must be a positive quantity",
    ),
    Case(
        "runtime-protocol-unknown",
        runtime({"protocolVersions": ["v3"], "containers": [CONTAINER]}),
        "spec.protocolVersions[0]",
        "schema",
    ),
    # lists that are maps keyed by name (x-kubernetes-list-type: map)
    Case(
        "predictor-duplicate-container-names",
        isvc({"containers": [CONTAINER, CONTAINER]}),
        "spec.predictor.containers[1]",
        "listmap",
        "Duplicate value",
    ),
    Case(
        "runtime-duplicate-container-names",
        runtime({"containers": [CONTAINER, CONTAINER]}),
        "spec.containers[1]",
        "listmap",
        "Duplicate value",
    ),
]
