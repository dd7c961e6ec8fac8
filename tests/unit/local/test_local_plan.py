"""Local mode plans every sample from the operator's own rendering, moved onto 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from modelplane.api import AnyResource, ServingRuntime, load_resources
from modelplane.local.plan import Layout, Plan, PlanError, build_plan
from modelplane.local.processes import Process
from modelplane.operator.config import OperatorConfig

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "manifests" / "samples"
PYTHON = "/venv/bin/python"
S3_URI = "s3://modelplane-models/resnet50/onnx"
LAYOUT = Layout(
    python=PYTHON,
    workdir="/work",
    claims={"models": "/models"},
    paths={"/opt/transformer": "/transformer", "/mnt/models": "/custom"},
)


def resources(*names: str) -> list[AnyResource]:
    files = [SAMPLES / n for n in names] if names else sorted(SAMPLES.glob("*.yaml"))
    return [r for path in files for r in load_resources(path)]


def runtimes() -> list[ServingRuntime]:
    found = [
        r
        for p in (REPO / "manifests" / "runtimes").glob("modelplane-*.yaml")
        for r in load_resources(p)
    ]
    return [r for r in found if isinstance(r, ServingRuntime)]


def ports() -> Iterator[int]:
    return iter(count(20000))


def plan(*names: str, layout: Layout = LAYOUT) -> Plan:
    return build_plan(resources(*names), runtimes(), OperatorConfig(), ports(), layout)


def process(p: Plan, name: str) -> Process:
    return next(x for x in p.processes if x.name == name)


def flag(proc: Process, name: str) -> str:
    values = [a.split("=", 1)[1] for a in proc.argv if a.startswith(name + "=")]
    assert len(values) == 1, proc.argv
    return values[0]


def test_every_sample_plans_with_one_endpoint_per_resource() -> None:
    everything = resources()
    p = plan()
    assert sorted(e.name for e in p.endpoints) == sorted(r.metadata.name or "" for r in everything)
    assert len({proc.port for proc in p.processes}) == len(p.processes)
    for proc in p.processes:
        assert proc.argv[:3] == (PYTHON, "-m", "modelplane")
        host = flag(proc, "--host")
        assert host == "127.0.0.1"
        assert proc.url == f"http://127.0.0.1:{proc.port}"


def test_model_from_a_claim_runs_from_the_local_directory() -> None:
    proc = process(plan("isvc-onnx-cpu.yaml"), "iris-onnx-predictor")
    assert proc.argv[3] == "serve"
    assert flag(proc, "--model-name") == "iris-onnx"
    assert flag(proc, "--model-dir") == "/models/iris-onnx"
    assert flag(proc, "--backend") == "onnx"
    assert flag(proc, "--http-port") == str(proc.port)
    assert flag(proc, "--grpc-port") != str(proc.port)


def test_a_local_server_that_cannot_load_exits_and_leaves_its_reason_in_the_workdir() -> None:
    proc = process(plan("isvc-onnx-cpu.yaml"), "iris-onnx-predictor")
    assert "--exit-on-load-failure" in proc.argv
    assert flag(proc, "--termination-message-path") == ("/work/iris-onnx-predictor.termination-log")


def test_batcher_fields_reach_the_local_server_as_flags() -> None:
    proc = process(plan("isvc-batcher.yaml"), "iris-batched-predictor")
    assert any(a.startswith("--max-batch-size=") for a in proc.argv)


def test_a_model_in_a_bucket_is_pulled_first_into_the_workdir() -> None:
    proc = process(plan("isvc-onnx-gpu.yaml"), "resnet-onnx-gpu-predictor")
    local = "/work/volumes/resnet-onnx-gpu-predictor/model-storage"
    (pull,) = proc.setup
    assert pull.argv == (PYTHON, "-m", "modelplane", "storage", "pull", S3_URI, local)
    assert flag(proc, "--model-dir") == local


def test_the_storage_settings_reach_the_model_download() -> None:
    config = OperatorConfig(storage_s3_endpoint="http://127.0.0.1:9000")
    p = build_plan(resources("isvc-onnx-gpu.yaml"), runtimes(), config, ports(), LAYOUT)
    (pull,) = p.processes[0].setup
    assert pull.env["MODELPLANE_STORAGE_S3_ENDPOINT"] == "http://127.0.0.1:9000"


def test_transformer_calls_the_local_predictor_and_is_the_endpoint() -> None:
    p = plan("isvc-transformer.yaml")
    predictor = process(p, "iris-transformed-predictor")
    transformer = process(p, "iris-transformed-transformer")
    assert transformer.env["PREDICTOR_URL"] == predictor.url
    assert transformer.env["PREDICTOR_HOST"] == f"127.0.0.1:{predictor.port}"
    assert flag(transformer, "--model-dir") == "/transformer"
    (endpoint,) = p.endpoints
    assert endpoint.url == transformer.url
    assert endpoint.infer_url == transformer.url + "/v2/models/iris-transformed/infer"


def test_graph_steps_resolve_to_the_local_model_servers() -> None:
    p = plan("isvc-onnx-cpu.yaml", "isvc-python-custom.yaml", "ig-sequence.yaml")
    router = process(p, "iris-pipeline-router")
    assert router.argv[3] == "router"
    graph_path = flag(router, "--graph")
    assert flag(router, "--port") == str(router.port)
    graph = json.loads(p.files[graph_path])
    urls = [step["serviceUrl"] for step in graph["nodes"]["root"]["steps"]]
    assert urls == [
        process(p, "iris-onnx-predictor").url + "/v2/models/iris-onnx/infer",
        process(p, "iris-labels-predictor").url + "/v2/models/iris-labels/infer",
    ]
    assert p.processes[-1] is router  # routers start after the models they call
    endpoint = next(e for e in p.endpoints if e.kind == "InferenceGraph")
    assert endpoint.model == "iris-onnx"  # its example request is the first model's
    assert endpoint.infer_url == router.url + "/v2/models/iris-pipeline/infer"
    assert endpoint.grpc == f"127.0.0.1:{flag(router, '--grpc-port')}"
    models = {e.name: e for e in p.endpoints if e.kind == "InferenceService"}
    assert (
        models["iris-onnx"].grpc
        == f"127.0.0.1:{flag(process(p, 'iris-onnx-predictor'), '--grpc-port')}"
    )


def test_a_graph_over_grpc_resolves_to_the_local_grpc_ports() -> None:
    resources_ = resources("isvc-onnx-cpu.yaml", "isvc-python-custom.yaml", "ig-sequence.yaml")
    for r in resources_:
        if r.kind == "InferenceGraph":
            r.spec.protocol = "grpc"  # type: ignore[union-attr]
    p = build_plan(resources_, runtimes(), OperatorConfig(), ports(), LAYOUT)
    graph = json.loads(next(iter(p.files.values())))
    urls = [step["serviceUrl"] for step in graph["nodes"]["root"]["steps"]]
    grpc = {e.name: e.grpc for e in p.endpoints}
    assert urls == [
        f"grpc://{grpc['iris-onnx']}/v2/models/iris-onnx",
        f"grpc://{grpc['iris-labels']}/v2/models/iris-labels",
    ]


def test_banner_prints_a_grpc_line_beside_each_curl() -> None:
    from modelplane.local.cli import banner

    p = plan("isvc-onnx-cpu.yaml", "isvc-python-custom.yaml", "ig-sequence.yaml")
    text = banner(p.endpoints)
    for endpoint in p.endpoints:
        assert f"    grpc: {endpoint.grpc}\n" in text


def test_env_of_the_model_reaches_the_process() -> None:
    proc = process(plan("isvc-python-custom.yaml"), "iris-labels-predictor")
    assert proc.env["IRIS_LABELS"] == "setosa,versicolor,virginica"


def test_a_claim_without_a_local_directory_names_the_flag() -> None:
    with pytest.raises(PlanError, match="--pvc models=DIR"):
        plan("isvc-onnx-cpu.yaml", layout=Layout(python=PYTHON, workdir="/work"))


def test_a_graph_without_its_services_says_which_are_missing() -> None:
    with pytest.raises(PlanError, match="iris-labels"):
        plan("isvc-onnx-cpu.yaml", "ig-sequence.yaml")


def test_a_container_that_is_not_modelplane_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "custom.yaml"
    path.write_text(
        "apiVersion: serving.modelplane.io/v1beta1\nkind: InferenceService\n"
        "metadata: {name: other}\nspec:\n  predictor:\n    containers:\n"
        "      - {name: c, image: example/server:1, command: [python, serve.py]}\n"
    )
    with pytest.raises(PlanError, match="modelplane"):
        build_plan(load_resources(path), runtimes(), OperatorConfig(), ports(), LAYOUT)


def test_no_servable_resource_is_an_error() -> None:
    with pytest.raises(PlanError, match="no InferenceService"):
        build_plan(runtimes(), runtimes(), OperatorConfig(), ports(), LAYOUT)


def test_without_runtimes_the_error_says_where_they_come_from() -> None:
    with pytest.raises(PlanError, match="--runtimes DIR"):
        build_plan(resources("isvc-onnx-cpu.yaml"), [], OperatorConfig(), ports(), LAYOUT)


def test_a_multi_model_runtime_is_refused_naming_what_to_use(tmp_path: Path) -> None:
    path = tmp_path / "pooled.yaml"
    path.write_text(
        "apiVersion: serving.modelplane.io/v1beta1\nkind: InferenceService\n"
        "metadata: {name: pooled}\nspec:\n  predictor:\n    model:\n"
        "      modelFormat: {name: onnx}\n      runtime: modelplane-onnx-pool\n"
        "      storageUri: s3://models/pooled\n"
    )
    with pytest.raises(PlanError, match=r"multi-model pool .* select a single-model runtime"):
        build_plan(load_resources(path), runtimes(), OperatorConfig(), ports(), LAYOUT)
