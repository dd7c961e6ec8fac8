"""End-to-end, local: every sample in manifests/samples/ runs in one `modelplane run` and answers.

The samples' storage is stood in for: the `models` claim by a directory (--pvc), the
transformer's /opt/transformer and the custom container's baked-in /mnt/models by paths
(--path), and the GPU sample's S3 bucket by a local S3 server (moto) that the model
download really reads from. The GPU samples run on CPU here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from e2e import sample_models
from modelplane.api import load_resources
from tests.support.local_run import (
    READY_LINE,
    Run,
    alive,
    banner,
    descendants,
    send,
)
from tests.support.ports import free_port

SAMPLES = Path(__file__).resolve().parents[1] / "manifests" / "samples"
START_TIMEOUT = 300.0  # a dozen Python servers starting on two cores


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local S3 server (moto) and the environment that points clients at it."""
    binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert binary, "moto_server missing: it comes with the dev extra (moto[server])"
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MODELPLANE_STORAGE_S3_ENDPOINT": f"http://127.0.0.1:{port}",
    }
    try:
        yield env | {"endpoint": f"http://127.0.0.1:{port}"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, s3: dict[str, str]) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("e2e-local")
    models = sample_models.build(root)
    sample_models.upload(s3["endpoint"], sample_models.files_under(models.bucket))
    config = root / "operator.yaml"
    config.write_text(yaml.safe_dump({"storageS3Endpoint": s3["endpoint"]}))
    run = Run(
        "-f",
        str(SAMPLES),
        "--pvc",
        f"models={models.claim}",
        "--path",
        f"/opt/transformer={models.transformer}",
        "--path",
        f"/mnt/models={models.claim / 'iris-onnx'}",
        "--config",
        str(config),
        "--ready-timeout",
        str(START_TIMEOUT),
        env={k: v for k, v in (os.environ | s3).items() if k != "endpoint"},
    )
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture(scope="module")
def endpoints(running: Run) -> dict[str, tuple[str, str, str | None]]:
    return banner(running.until(READY_LINE, START_TIMEOUT + 60))


def sample_names() -> list[str]:
    return sorted(
        r.metadata.name or "" for p in sorted(SAMPLES.glob("*.yaml")) for r in load_resources(p)
    )


def test_every_sample_is_served_with_a_printed_curl(
    endpoints: dict[str, tuple[str, str, str | None]],
) -> None:
    assert sorted(endpoints) == sample_names()
    assert not [name for name, (_, _, curl) in endpoints.items() if curl is None]


@pytest.mark.parametrize("name", sample_names())
def test_sample_answers_its_printed_curl(
    endpoints: dict[str, tuple[str, str, str | None]], name: str
) -> None:
    kind, _, curl = endpoints[name]
    assert curl is not None
    answer = send(curl)
    outputs = answer.get("outputs")
    assert isinstance(outputs, list) and outputs, answer
    by_name = {o["name"]: o for o in outputs}
    if name in ("iris-pipeline",) or name == "iris-labels":  # classifier -> labels
        assert by_name["species"]["data"][0] in sample_models.LABELS
    elif name == "iris-transformed":
        assert by_name["class"]["data"] == [int(np.argmax(by_name["probabilities"]["data"]))]
    elif name == "mnist-pytorch":
        assert by_name["logits"]["shape"] == [1, 3]
    elif name == "iris-ensemble":  # both members' outputs, named by step
        assert {"onnx.probabilities", "pytorch.probabilities"} <= set(by_name), by_name
    else:  # the classifier behind every other sample, alone or routed to
        assert np.isclose(sum(by_name["probabilities"]["data"]), 1.0, atol=1e-5), kind


def test_each_graphs_router_runs_the_http_edge_it_asks_for(
    running: Run, endpoints: dict[str, tuple[str, str, str | None]]
) -> None:
    edges = {}
    for line in running.output:
        prefix, _, rest = line.partition("] ")
        if '"HTTP listening"' in rest and prefix.endswith("-router"):
            edges[prefix.removeprefix("[").removesuffix("-router")] = json.loads(rest)["http_edge"]
    graphs = {n for n, (kind, _, _) in endpoints.items() if kind == "InferenceGraph"}
    assert set(edges) == graphs
    # ig-ensemble.yaml sets httpEdge: threads; the others leave the router's default
    assert edges == {n: "threads" if n == "iris-ensemble" else "loop" for n in graphs}


def test_ctrl_c_stops_every_sample_process(
    running: Run, endpoints: dict[str, tuple[str, str, str | None]]
) -> None:
    children = descendants(running.popen.pid)
    assert len(children) >= len(endpoints)
    running.popen.send_signal(signal.SIGINT)
    assert running.popen.wait(timeout=120) == 0
    assert not [pid for pid in children if alive(pid)]
