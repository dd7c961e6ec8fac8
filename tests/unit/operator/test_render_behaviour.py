"""What each spec field turns into in the rendered children."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from modelplane.api import InferenceGraph, InferenceService
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.graph import (
    GRAPH_FILE,
    NoGrpcTargetError,
    UnresolvedServicesError,
    render_inference_graph,
    resolve_graph,
)
from modelplane.operator.render.isvc import render_inference_service
from modelplane.operator.render.meta import Obj
from modelplane.router.graph import load as load_graph
from tests.unit.operator.samples import SAMPLES, render_sample, runtimes, stored

SAMPLE = {p.stem: p for p in SAMPLES}


def by_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def pod_spec(objects: list[Obj], name: str | None = None) -> Obj:
    spec: Obj = one(objects, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def isvc(predictor: dict[str, Any], **extra: Any) -> InferenceService:
    body = {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "ns", "uid": "u1", "generation": 1},
        "spec": {"predictor": predictor, **extra},
    }
    return InferenceService.model_validate(body)


def onnx(**model: Any) -> dict[str, Any]:
    return {"modelFormat": {"name": "onnx"}, **model}


def render(resource: InferenceService, config: OperatorConfig | None = None) -> list[Obj]:
    onnx_runtime = next(r for r in runtimes() if r.metadata.name == "modelplane-onnx")
    return render_inference_service(resource, onnx_runtime, config or OperatorConfig())


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize("sample", ["isvc-onnx-gpu", "isvc-onnx-mig"])
def test_gpu_samples_tolerate_the_gpu_taint_and_use_the_cuda_image(sample: str) -> None:
    spec = pod_spec(render_sample(SAMPLE[sample]))
    assert GPU_TOLERATION in spec["tolerations"]
    assert spec["containers"][0]["image"] == "modelplane/model-server-cuda:0.1.0"


def test_cpu_sample_has_no_gpu_toleration_and_the_cpu_image() -> None:
    spec = pod_spec(render_sample(SAMPLE["isvc-onnx-cpu"]))
    assert "tolerations" not in spec
    assert spec["containers"][0]["image"] == "modelplane/model-server:0.1.0"


def test_mig_sample_keeps_its_node_selector() -> None:
    spec = pod_spec(render_sample(SAMPLE["isvc-onnx-mig"]))
    assert spec["nodeSelector"] == {"nvidia.com/mig.strategy": "mixed"}
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/mig-1g.10gb"] == 1


def test_configured_gpu_resource_name_and_taint_key() -> None:
    config = OperatorConfig(gpu_resources={"example.com/tpu": "example.com/accelerator"})
    objects = render(isvc({"model": onnx(resources={"limits": {"example.com/tpu": 2}})}), config)
    spec = pod_spec(objects)
    assert spec["tolerations"] == [
        {"key": "example.com/accelerator", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert spec["containers"][0]["resources"]["limits"]["example.com/tpu"] == 2


def test_scheduling_is_merged_from_runtime_and_predictor() -> None:
    resource = isvc(
        {
            "model": onnx(resources={"limits": {"nvidia.com/gpu": 1}}),
            "nodeSelector": {"pool": "gpu"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml"}],
            "affinity": {"nodeAffinity": {"x": 1}},
            "serviceAccountName": "reader",
        }
    )
    spec = pod_spec(render(resource))
    assert spec["nodeSelector"] == {"pool": "gpu"}
    assert spec["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml"},
        GPU_TOLERATION,
    ]
    assert spec["affinity"] == {"nodeAffinity": {"x": 1}}
    assert spec["serviceAccountName"] == "reader"


def test_batcher_concurrency_and_timeout_become_server_flags() -> None:
    resource = isvc(
        {
            "model": onnx(args=["--log-level=debug"]),
            "batcher": {"maxBatchSize": 16, "maxLatency": 7},
            "containerConcurrency": 3,
            "timeout": 45,
        }
    )
    args = pod_spec(render(resource))["containers"][0]["args"]
    assert args[-5:] == [
        "--max-batch-size=16",
        "--max-queue-delay-us=7000",
        "--max-concurrency=3",
        "--request-timeout=45",
        "--log-level=debug",
    ]
    assert "--model-name=m" in args
    assert args.count("--model-dir=/mnt/models") == 1


def test_batched_sample_flags() -> None:
    args = pod_spec(render_sample(SAMPLE["isvc-batcher"]))["containers"][0]["args"]
    assert "--max-batch-size=32" in args
    assert "--max-queue-delay-us=5000" in args


def test_model_resources_override_the_runtime_and_stay_valid() -> None:
    resource = isvc({"model": onnx(resources={"limits": {"cpu": "500m"}})})
    resources = pod_spec(render(resource))["containers"][0]["resources"]
    # the runtime's 1-CPU request would exceed the 500m limit: the request is left to default
    assert resources["limits"]["cpu"] == "500m"
    assert "cpu" not in resources.get("requests", {})
    assert resources["requests"]["memory"] == "2Gi"


def test_server_probes_and_restricted_security() -> None:
    spec = pod_spec(render(isvc({"model": onnx()})))
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_service_ports_http_and_grpc_h2c() -> None:
    service = one(render(isvc({"model": onnx()})), "Service", "m-predictor")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {
            "name": "grpc",
            "port": 8081,
            "targetPort": 8081,
            "protocol": "TCP",
            "appProtocol": "kubernetes.io/h2c",
        },
    ]
    assert service["spec"]["selector"] == names.component_labels("m", "predictor")


def test_pvc_storage_is_mounted_read_only() -> None:
    spec = pod_spec(render(isvc({"model": onnx(storageUri="pvc://claim/dir/model")})))
    assert spec["volumes"] == [
        {"name": "model-storage", "persistentVolumeClaim": {"claimName": "claim", "readOnly": True}}
    ]
    assert spec["containers"][0]["volumeMounts"] == [
        {
            "name": "model-storage",
            "mountPath": "/mnt/models",
            "readOnly": True,
            "subPath": "dir/model",
        }
    ]
    assert "initContainers" not in spec


@pytest.mark.parametrize(
    "uri", ["s3://bucket/models/iris", "gs://bucket/iris", "https://example.com/iris.tar.gz"]
)
def test_remote_storage_is_pulled_by_an_init_container(uri: str) -> None:
    config = OperatorConfig(storage_s3_endpoint="http://minio:9000")
    resource = isvc({"model": onnx(storageUri=uri)})
    resource.metadata.annotations[names.STORAGE_SECRET_ANNOTATION] = "s3-creds"
    spec = pod_spec(render(resource, config))
    (init,) = spec["initContainers"]
    assert init["command"] == ["modelplane", "storage", "pull", uri, "/mnt/models"]
    assert {"name": "MODELPLANE_STORAGE_S3_ENDPOINT", "value": "http://minio:9000"} in init["env"]
    assert init["envFrom"] == [{"secretRef": {"name": "s3-creds", "optional": False}}]
    assert spec["volumes"] == [{"name": "model-storage", "emptyDir": {}}]
    assert spec["containers"][0]["volumeMounts"][0]["readOnly"] is True


def test_autoscaled_sample_gets_a_cpu_hpa_and_no_fixed_replicas() -> None:
    objects = render_sample(SAMPLE["isvc-autoscaled"])
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["maxReplicas"] == 5
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert "replicas" not in one(objects, "Deployment")["spec"]


def test_rps_sample_gets_an_hpa_on_the_adapters_rate() -> None:
    hpa = one(render_sample(SAMPLE["isvc-autoscaled-rps"]), "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "modelplane_inference_requests_per_second"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "5"}


@pytest.mark.parametrize(
    ("metric", "model_metric", "router_metric"),
    [
        (
            "rps",
            "modelplane_inference_requests_per_second",
            "modelplane_router_requests_per_second",
        ),
        ("concurrency", "modelplane_inference_in_flight", "modelplane_router_in_flight_requests"),
    ],
)
def test_rps_and_concurrency_name_the_pods_metric_of_their_server(
    metric: str, model_metric: str, router_metric: str
) -> None:
    scaling = {"minReplicas": 1, "maxReplicas": 3, "scaleMetric": metric, "scaleTarget": 7}
    routed = graph(SEQUENCE, **scaling)
    for objects, name in (
        (render(isvc({"model": onnx(), **scaling})), model_metric),
        (
            render_inference_graph(
                routed, resolve_graph(routed, {"first": "http://a"}), OperatorConfig()
            ),
            router_metric,
        ),
    ):
        assert one(objects, "HorizontalPodAutoscaler")["spec"]["metrics"] == [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": name},
                    "target": {"type": "AverageValue", "averageValue": "7"},
                },
            }
        ]


@pytest.mark.parametrize("metric", ["rps", "concurrency"])
def test_pods_metrics_are_refused_where_no_server_serves_them(metric: str) -> None:
    scaling = {"maxReplicas": 3, "scaleMetric": metric, "scaleTarget": 5}
    with pytest.raises(ValidationError, match="need a model predictor"):
        isvc({"containers": [{"name": "c", "image": "x"}], **scaling})
    with pytest.raises(ValidationError, match="a transformer scales on cpu or memory"):
        isvc(
            {"model": onnx()}, transformer={"containers": [{"name": "c", "image": "x"}], **scaling}
        )
    with pytest.raises(ValidationError, match="need scaleTarget"):
        isvc({"model": onnx(), "maxReplicas": 3, "scaleMetric": metric})


@pytest.mark.parametrize(
    ("scaling", "metric"),
    [
        (
            {},
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            },
        ),
        (
            {"scaleMetric": "memory", "scaleTarget": 60},
            {
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": 60},
                },
            },
        ),
    ],
)
def test_hpa_metric_per_scale_metric(scaling: dict[str, Any], metric: Obj) -> None:
    objects = render(isvc({"model": onnx(), "minReplicas": 2, "maxReplicas": 4, **scaling}))
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["metrics"] == [metric]


@pytest.mark.parametrize(
    ("bounds", "replicas"),
    [({}, 1), ({"minReplicas": 3, "maxReplicas": 3}, 3), ({"minReplicas": 2}, 2)],
)
def test_no_hpa_when_min_equals_max(bounds: dict[str, int], replicas: int) -> None:
    objects = render(isvc({"model": onnx(), **bounds}))
    assert by_kind(objects, "HorizontalPodAutoscaler") == []
    assert one(objects, "Deployment")["spec"]["replicas"] == replicas


def test_ingress_only_with_a_domain() -> None:
    resource = isvc({"model": onnx()})
    assert by_kind(render(resource), "Ingress") == []
    config = OperatorConfig(ingress_domain="models.example.com", ingress_class="traefik")
    ingress = one(render(resource, config), "Ingress")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "m-ns.models.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": "m-predictor",
        "port": {"number": 80},
    }
    assert ingress["spec"]["ingressClassName"] == "traefik"


def test_transformer_gets_the_predictor_address_and_the_ingress() -> None:
    objects = render_sample(SAMPLE["isvc-transformer"])
    env = pod_spec(objects, "iris-transformed-transformer")["containers"][0]["env"]
    assert {
        "name": "PREDICTOR_HOST",
        "value": "iris-transformed-predictor.default.svc.cluster.local",
    } in env
    assert {
        "name": "PREDICTOR_URL",
        "value": "http://iris-transformed-predictor.default.svc.cluster.local",
    } in env
    backend = one(objects, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == "iris-transformed-transformer"
    deployments = {o["metadata"]["name"] for o in by_kind(objects, "Deployment")}
    assert "iris-transformed-transformer" in deployments
    (revision,) = deployments - {"iris-transformed-transformer"}
    assert revision.startswith("iris-transformed-predictor-")


def test_custom_container_predictor_keeps_its_command() -> None:
    container = pod_spec(render_sample(SAMPLE["isvc-custom-container"]))["containers"][0]
    assert container["command"] == ["modelplane"]
    assert container["args"][0] == "serve"
    assert container["securityContext"]["runAsNonRoot"] is True


def test_model_predictor_without_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="ServingRuntime"):
        render_inference_service(isvc({"model": onnx()}), None, OperatorConfig())


def test_render_does_not_mutate_its_inputs() -> None:
    resource = isvc({"model": onnx(storageUri="s3://b/k"), "batcher": {"maxBatchSize": 2}})
    before = resource.model_dump()
    runtime_before = [r.model_dump() for r in runtimes()]
    render(resource)
    render(resource)
    assert resource.model_dump() == before
    assert [r.model_dump() for r in runtimes()] == runtime_before


def test_without_uid_there_are_no_owner_references() -> None:
    resource = isvc({"model": onnx()})
    resource.metadata.uid = None
    assert all("ownerReferences" not in o["metadata"] for o in render(resource))


def test_long_names_are_bounded_and_stable() -> None:
    long_name = "a" * 60
    first = names.component(long_name, "transformer")
    assert len(first) <= 63
    assert first == names.component(long_name, "transformer")
    assert first != names.component("a" * 61, "transformer")
    assert names.component("short", "predictor") == "short-predictor"


# --- graphs ----------------------------------------------------------------------------


def graph(nodes: dict[str, Any], **spec: Any) -> InferenceGraph:
    body = {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "g", "namespace": "ns", "uid": "g1"},
        "spec": {"nodes": nodes, **spec},
    }
    return InferenceGraph.model_validate(body)


SEQUENCE = {
    "root": {
        "routerType": "Sequence",
        "steps": [
            {"name": "a", "serviceName": "first"},
            {"name": "b", "nodeName": "tail", "data": "$response"},
        ],
    },
    "tail": {"routerType": "Sequence", "steps": [{"serviceUrl": "http://x/v2/models/x/infer"}]},
}


def test_graph_resolution_turns_service_names_into_infer_urls() -> None:
    resolved = resolve_graph(
        graph(SEQUENCE, timeout=30), {"first": "http://first-predictor.ns.svc.cluster.local/"}
    )
    assert resolved == {
        "name": "g",
        "nodes": {
            "root": {
                "routerType": "Sequence",
                "steps": [
                    {
                        "name": "a",
                        "serviceUrl": "http://first-predictor.ns.svc.cluster.local/v2/models/first/infer",
                    },
                    {"name": "b", "nodeName": "tail", "data": "$response"},
                ],
            },
            "tail": {
                "routerType": "Sequence",
                "steps": [{"serviceUrl": "http://x/v2/models/x/infer"}],
            },
        },
        "timeout": 30,
    }


def test_graph_resolution_passes_step_extensions_to_the_router() -> None:
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "a", "serviceName": "first", "timeout": 2.5, "retries": 0},
                {"name": "b", "serviceName": "first", "data": "$response", "mapping": {"y": "x"}},
            ],
        }
    }
    resolved = resolve_graph(graph(nodes), {"first": "http://first"})
    url = "http://first/v2/models/first/infer"
    assert resolved["nodes"]["root"]["steps"] == [
        {"name": "a", "serviceUrl": url, "timeout": 2.5, "retries": 0},
        {"name": "b", "serviceUrl": url, "data": "$response", "mapping": {"y": "x"}},
    ]
    # the ConfigMap's file is what the router loads, extensions and all
    file = one(render_inference_graph(graph(nodes), resolved, OperatorConfig()), "ConfigMap")
    loaded = load_graph(json.loads(file["data"][GRAPH_FILE]))
    first, second = loaded.root.steps
    assert (first.timeout, first.retries, first.mapping) == (2.5, 0, None)
    assert (second.timeout, second.retries, second.mapping) == (None, None, {"y": "x"})


def test_the_graphs_http_edge_reaches_the_router_through_its_file() -> None:
    spec = graph(SEQUENCE, httpEdge="threads")
    resolved = resolve_graph(spec, {"first": "http://first"})
    assert resolved["httpEdge"] == "threads"
    file = one(render_inference_graph(spec, resolved, OperatorConfig()), "ConfigMap")
    assert load_graph(json.loads(file["data"][GRAPH_FILE])).http_edge == "threads"
    unset = resolve_graph(graph(SEQUENCE), {"first": "http://first"})
    assert "httpEdge" not in unset  # the router's own default (loop)
    assert load_graph(unset).http_edge is None


def test_graph_resolution_follows_the_step_then_the_graph_protocol() -> None:
    nodes = {
        "root": {
            "routerType": "Sequence",
            "steps": [
                {"name": "a", "serviceName": "first"},
                {"name": "b", "serviceName": "first", "protocol": "rest"},
                {"name": "c", "serviceName": "wrapped"},
            ],
        }
    }
    urls = {"first": "http://first-predictor.ns", "wrapped": "http://wrapped-transformer.ns"}
    grpc = {"first": "first-predictor.ns:8081"}  # `wrapped` has a transformer: no gRPC entry
    by_default = resolve_graph(graph(nodes), urls, grpc)["nodes"]["root"]["steps"]
    assert [s["serviceUrl"] for s in by_default] == [
        "http://first-predictor.ns/v2/models/first/infer",  # the default protocol is REST
        "http://first-predictor.ns/v2/models/first/infer",
        "http://wrapped-transformer.ns/v2/models/wrapped/infer",
    ]
    nodes["root"]["steps"].pop()
    over_grpc = resolve_graph(graph(nodes, protocol="grpc"), urls, grpc)
    steps = over_grpc["nodes"]["root"]["steps"]
    assert [s["serviceUrl"] for s in steps] == [
        "grpc://first-predictor.ns:8081/v2/models/first",
        "http://first-predictor.ns/v2/models/first/infer",  # the step's own protocol wins
    ]
    assert all("protocol" not in s for s in steps)  # the scheme says it
    router_graph = load_graph(over_grpc)
    assert router_graph.root.steps[0].grpc_target == "first-predictor.ns:8081"
    assert router_graph.root.steps[0].model == "first"


def test_graph_resolution_refuses_grpc_to_a_service_without_a_grpc_entry() -> None:
    nodes = {"root": {"routerType": "Sequence", "steps": [{"serviceName": "wrapped"}]}}
    with pytest.raises(NoGrpcTargetError, match="wrapped does not serve it"):
        resolve_graph(graph(nodes, protocol="grpc"), {"wrapped": "http://wrapped-transformer"}, {})


def test_router_serves_grpc_on_its_service() -> None:
    resolved = resolve_graph(graph(SEQUENCE), {"first": "http://first"})
    rendered = render_inference_graph(graph(SEQUENCE), resolved, OperatorConfig())
    ports = one(rendered, "Service")["spec"]["ports"]
    assert {"name": "grpc", "port": 8081, "targetPort": 8081, "protocol": "TCP",
            "appProtocol": "kubernetes.io/h2c"} in ports  # fmt: skip
    container = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-2:] == ["--grpc-port", "8081"]
    assert {"name": "grpc", "containerPort": 8081, "protocol": "TCP"} in container["ports"]


def test_graph_resolution_names_what_is_missing() -> None:
    with pytest.raises(UnresolvedServicesError) as caught:
        resolve_graph(graph(SEQUENCE), {})
    assert caught.value.missing == ["first"]


def test_graph_change_changes_the_router_pod_template_hash() -> None:
    config = OperatorConfig()
    g = graph(SEQUENCE)
    first = render_inference_graph(g, resolve_graph(g, {"first": "http://a"}), config)
    moved = render_inference_graph(g, resolve_graph(g, {"first": "http://b"}), config)
    again = render_inference_graph(g, resolve_graph(g, {"first": "http://a"}), config)

    def digest(objects: list[Obj]) -> str:
        meta = one(objects, "Deployment")["spec"]["template"]["metadata"]
        return str(meta["annotations"][names.CONFIG_HASH_ANNOTATION])

    assert digest(first) != digest(moved)
    assert digest(first) == digest(again)


def test_graph_router_children() -> None:
    objects = render_sample(SAMPLE["ig-sequence"])
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "iris-pipeline-graph"),
        ("Deployment", "iris-pipeline-router"),
        ("Service", "iris-pipeline-router"),
        ("Ingress", "iris-pipeline"),
    ]
    container = pod_spec(objects)["containers"][0]
    assert container["command"][:4] == [
        "modelplane",
        "router",
        "--graph",
        "/etc/modelplane/graph/graph.json",
    ]
    assert pod_spec(objects)["volumes"] == [
        {"name": "graph", "configMap": {"name": "iris-pipeline-graph"}}
    ]


def test_graph_router_autoscaling() -> None:
    g = graph(SEQUENCE, minReplicas=1, maxReplicas=3, scaleMetric="cpu", scaleTarget=60)
    objects = render_inference_graph(g, resolve_graph(g, {"first": "http://a"}), OperatorConfig())
    assert one(objects, "HorizontalPodAutoscaler")["spec"]["maxReplicas"] == 3


def test_stored_helper_sets_identity() -> None:
    resource = stored(isvc({"model": onnx()}))
    assert resource.metadata.uid == "uid-m"


def test_stopping_servers_keep_serving_while_endpoints_are_dropped() -> None:
    from modelplane.operator.render.pod import deployment

    spec = {"containers": [{"name": "a"}, {"name": "b", "lifecycle": {"postStart": {}}}]}
    rendered = deployment("d", {}, {"app": "x"}, spec, {}, 1, pre_stop_seconds=5)
    a, b = rendered["spec"]["template"]["spec"]["containers"]
    assert a["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert b["lifecycle"] == {"postStart": {}}  # the user's own lifecycle is kept
    off = deployment("d", {}, {"app": "x"}, spec, {}, 1, pre_stop_seconds=0)
    assert "lifecycle" not in off["spec"]["template"]["spec"]["containers"][0]


def test_a_model_that_cannot_load_crash_loops_with_its_reason() -> None:
    spec = pod_spec(render(isvc({"model": onnx(storageUri="s3://bucket/iris")})))
    server = spec["containers"][0]
    assert server["args"].count("--exit-on-load-failure") == 1
    assert not any(a.startswith("--termination-message-path") for a in server["args"])
    assert server["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert spec["initContainers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"
    custom = pod_spec(render_sample(SAMPLE["isvc-custom-container"]))["containers"][0]
    assert "--exit-on-load-failure" not in custom["args"]  # user containers run as written


def test_a_runtime_that_moves_the_termination_message_tells_the_server() -> None:
    onnx_runtime = next(r for r in runtimes() if r.metadata.name == "modelplane-onnx")
    body = onnx_runtime.model_dump(by_alias=True, exclude_none=True)
    container = body["spec"]["containers"][0]
    container["args"] = [*container["args"], "--exit-on-load-failure"]
    container["terminationMessagePath"] = "/tmp/why"
    container["terminationMessagePolicy"] = "File"
    runtime = type(onnx_runtime).model_validate(body)
    rendered = render_inference_service(isvc({"model": onnx()}), runtime, OperatorConfig())
    server = pod_spec(rendered)["containers"][0]
    assert server["args"].count("--exit-on-load-failure") == 1
    assert server["args"].count("--termination-message-path=/tmp/why") == 1
    assert server["terminationMessagePath"] == "/tmp/why"
    assert server["terminationMessagePolicy"] == "File"  # the runtime's own choice is kept
