"""The pool pass against two real model servers in pool mode (the issue-16 contract end to end,
without a cluster): an in-memory API server holds the objects, the replicas are `ModelServer`s
on 127.0.0.1 with an empty repository and a memory capacity, and the models are ONNX files
served over real HTTP, pulled by the servers themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelplane.operator import names
from modelplane.operator.kinds import ISVC, POOL
from modelplane.operator.pool_client import HttpReplicas
from modelplane.operator.reconcile import Reconciler
from tests.support import models
from tests.support.file_server import serve_files
from tests.support.model_server import RunningServer, server_in_thread
from tests.unit.operator.fake_kube import FakeKube
from tests.unit.operator.samples import CONFIG
from tests.unit.operator.test_pool import NS, isvc_obj, runtime_obj, start_pods

NOW = "2026-01-01T00:00:00Z"
COUNT = 6
BODY = {"inputs": [{"name": "INPUT0", "shape": [1, 1], "datatype": "FP32", "data": [0.0]}]}


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[str]:
    """Model i adds i + 1, served over HTTP on 127.0.0.1."""
    for i in range(COUNT):
        models.onnx_add_constant(tmp_path / f"m{i}" / "model.onnx", i + 1.0)
    with serve_files(tmp_path) as url:
        yield url


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[RunningServer]]:
    """Two pool servers, as the pool's StatefulSet would run them (empty, with a capacity)."""
    (tmp_path / "r0").mkdir()
    (tmp_path / "r1").mkdir()
    settings: dict[str, Any] = {"memory_capacity": 2**30}
    with (
        server_in_thread(model_repository=tmp_path / "r0", **settings) as first,
        server_in_thread(model_repository=tmp_path / "r1", **settings) as second,
    ):
        yield [first, second]


def test_the_pool_pass_places_loads_and_labels_models_on_real_servers(
    storage: str, replicas: list[RunningServer]
) -> None:
    kube = FakeKube()
    kube.put(runtime_obj())
    for i in range(COUNT):
        obj = isvc_obj(f"m{i}")
        obj["spec"]["predictor"]["model"]["storageUri"] = f"{storage}/m{i}/model.onnx"
        kube.put(obj)
    start_pods(kube)  # pool-pool-0 at 10.9.0.1, pool-pool-1 at 10.9.0.2
    servers = {"10.9.0.1": replicas[0], "10.9.0.2": replicas[1]}
    client = HttpReplicas(address=lambda ip: servers[ip].url)
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=client)
    names_ = [f"m{i}" for i in range(COUNT)]
    for name in names_:
        reconciler.run((ISVC, NS, name))
    reconciler.run((POOL, NS, "pool"))
    for name in names_:
        reconciler.run((ISVC, NS, name))
    pods = kube.of_kind("Pod")
    for i, name in enumerate(names_):
        status = (kube.get(ISVC, NS, name) or {})["status"]
        (ready,) = [c for c in status["conditions"] if c["type"] == "Ready"]
        assert ready["status"] == "True", status
        (replica,) = status["modelStatus"]["placement"]["replicas"]
        labels = pods[replica]["metadata"]["labels"]
        assert labels[names.model_label(name)] == "true"
        ip = pods[replica]["status"]["podIP"]
        # the replica the status names answers for the model, with the model's own answer
        answer = httpx.post(f"{servers[ip].url}/v2/models/{name}/infer", json=BODY, timeout=30)
        assert answer.json()["outputs"][0]["data"] == [i + 1.0], answer.text
        # measured by the server (a tiny model's resident-memory delta may read as 0)
        memory = status["modelStatus"]["placement"]["memory"]
        assert isinstance(memory, int) and memory >= 0
    held = [
        sum(names.model_label(m) in p["metadata"]["labels"] for m in names_) for p in pods.values()
    ]
    assert sorted(held) == [COUNT // 2, COUNT // 2]
    # a model deleted from the cluster is unregistered from its replica
    kube.delete(ISVC, NS, "m0")
    reconciler.run((POOL, NS, "pool"))
    indexes = [httpx.post(f"{s.url}/v2/repository/index").json() for s in replicas]
    assert "m0" not in {item["name"] for index in indexes for item in index}
