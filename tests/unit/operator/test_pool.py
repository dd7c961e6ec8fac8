"""Multi-model pools in the operator: what renders (goldens), what is refused, and passes over
an in-memory API server and in-memory replicas that keep the contract's registry (register,
load, evict, unregister), so a pass's calls and the statuses it leads to can be stated.

Regenerate the goldens after an intended change with MODELPLANE_UPDATE_GOLDENS=1.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelplane.api import InferenceService, ServingRuntime
from modelplane.operator import names
from modelplane.operator.kinds import ISVC, POOL
from modelplane.operator.pool_client import ReplicaError
from modelplane.operator.pool_status import replica_state
from modelplane.operator.reconcile import Reconciler
from modelplane.operator.render.pool import pool_problems, render_pool, render_pool_member
from tests.unit.operator.fake_kube import FakeKube
from tests.unit.operator.samples import CONFIG

GOLDENS = Path(__file__).parent / "goldens" / "pool"
NOW = "2026-01-01T00:00:00Z"
NS = "team"
MI = 2**20
Obj = dict[str, Any]


def runtime_obj(name: str = "pool", **spec: Any) -> Obj:
    body: Obj = {
        "multiModel": True,
        "replicas": 2,
        "capacity": {"memory": "1Gi"},
        "supportedModelFormats": [{"name": "onnx"}],
        "containers": [
            {
                "name": "model-server",
                "image": "modelplane/model-server:0.1.0",
                "command": ["modelplane"],
                "args": ["serve", "--host=0.0.0.0"],
                "resources": {"requests": {"cpu": "250m"}},
            }
        ],
    }
    body.update(spec)
    return {
        "apiVersion": "serving.modelplane.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": name, "namespace": NS},
        "spec": body,
    }


def isvc_obj(name: str, memory: str | None = None, **predictor: Any) -> Obj:
    model: Obj = {
        "modelFormat": {"name": "onnx"},
        "runtime": "pool",
        "storageUri": f"http://storage.test/{name}/model.onnx",
    }
    if memory:
        model["resources"] = {"requests": {"memory": memory}}
    return {
        "apiVersion": "serving.modelplane.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "generation": 1},
        "spec": {"predictor": {"model": model, **predictor}},
    }


# --- render -------------------------------------------------------------------------------


def test_the_pool_and_a_member_render_their_golden() -> None:
    runtime = ServingRuntime.model_validate(runtime_obj())
    members = [InferenceService.model_validate(isvc_obj(n, "64Mi")) for n in ("b", "a")]
    objects = render_pool(runtime, NS, members, CONFIG)
    objects += render_pool_member(members[1], runtime, CONFIG)
    text = yaml.safe_dump_all(objects, sort_keys=False)
    golden = GOLDENS / "pool-and-member.yaml"
    if os.environ.get("MODELPLANE_UPDATE_GOLDENS") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_pool_server_gets_its_capacity_and_memory_beyond_it() -> None:
    runtime = ServingRuntime.model_validate(runtime_obj())
    statefulset = render_pool(runtime, NS, [], CONFIG)[1]
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert f"--memory-capacity={2**30}" in container["args"]
    assert "--model-repository=/mnt/models" in container["args"]
    memory = str(2**30 + 512 * MI)  # the capacity and the operator's poolMemoryOverhead
    assert container["resources"]["limits"]["memory"] == memory
    assert container["resources"]["requests"]["memory"] == memory
    assert statefulset["spec"]["replicas"] == 2
    assert "ownerReferences" not in statefulset["metadata"]  # no members: no owners


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ({"containers": [{"name": "s", "args": ["--model-name={{.Name}}"]}]}, "{{.Name}}"),
        ({"containers": [{"name": "s", "args": ["--model-dir=/mnt/models"]}]}, "--model-dir"),
        (
            {"containers": [{"name": "s", "resources": {"limits": {"memory": "512Mi"}}}]},
            "memory limit 512Mi is below capacity.memory",
        ),
        ({"capacity": {"memory": "1Gi", "gpuMemory": "8Gi"}}, "capacity.gpuMemory needs a GPU"),
        (
            {"containers": [{"name": "s", "resources": {"limits": {"nvidia.com/gpu": 1}}}]},
            "a GPU pool needs capacity.gpuMemory",
        ),
    ],
)
def test_a_runtime_that_cannot_run_as_a_pool_says_why(spec: Obj, why: str) -> None:
    runtime = ServingRuntime.model_validate(runtime_obj(**spec))
    problems = pool_problems(runtime, CONFIG)
    assert any(why in p for p in problems), problems
    with pytest.raises(ValueError, match="runtime pool: "):
        render_pool(runtime, NS, [], CONFIG)


@pytest.mark.parametrize(
    ("item", "state"),
    [
        (None, "Pending"),
        ({"state": "READY"}, "Loaded"),
        ({"state": "LOADING"}, "Loading"),
        ({"state": "UNAVAILABLE", "reason": "evicted: least recently used"}, "Unloaded"),
        ({"state": "UNAVAILABLE", "storage_uri": "s3://b/m"}, "Unloaded"),
        ({"state": "UNAVAILABLE", "reason": "registered: lazy"}, "Unloaded"),
        ({"state": "UNAVAILABLE", "reason": "unloaded"}, "Unloaded"),
        ({"state": "UNAVAILABLE", "reason": "pulling s3://b/m failed: 403"}, "FailedToLoad"),
        ({"state": "UNAVAILABLE", "reason": "does not fit: 3Gi > 2Gi"}, "FailedToLoad"),
        ({"state": "UNAVAILABLE", "reason": "bad onnx"}, "FailedToLoad"),
    ],
)
def test_a_replica_index_item_maps_to_kserves_states(item: Obj | None, state: str) -> None:
    assert replica_state(item)[0] == state


# --- passes over an in-memory API server and replicas --------------------------------------


@dataclass
class FakeReplicas:
    """Replicas keeping the contract's registry: register on load (pull, then load unless it
    would not fit), LRU eviction beyond `capacity`, unregister on unload."""

    capacity: int = 2**30
    sizes: dict[str, int] = field(default_factory=dict)  # model -> measured size
    broken: set[str] = field(default_factory=set)  # models whose load fails
    down: set[str] = field(default_factory=set)  # pod IPs that do not answer
    registry: dict[str, dict[str, Obj]] = field(default_factory=dict)  # ip -> name -> item
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    clock: float = 1000.0

    def _pod(self, ip: str) -> dict[str, Obj]:
        if ip in self.down:
            raise ReplicaError(f"no answer from {ip}")
        return self.registry.setdefault(ip, {})

    def index(self, pod_ip: str) -> list[dict[str, Any]]:
        return [{"name": n, **i} for n, i in sorted(self._pod(pod_ip).items())]

    def load(
        self, pod_ip: str, model: str, storage_uri: str, memory: int | None, timeout: float
    ) -> None:
        pod = self._pod(pod_ip)
        self.calls.append(("load", pod_ip, model))
        self.clock += 1
        size = self.sizes.get(model, memory or 10 * MI)
        if model in self.broken:
            pod[model] = {"state": "UNAVAILABLE", "reason": "bad onnx", "storage_uri": storage_uri}
            raise ReplicaError("bad onnx", 500)
        loaded = sorted(
            (i["last_used"], n) for n, i in pod.items() if i["state"] == "READY" and n != model
        )
        while loaded and sum(pod[n]["memory"] for _, n in loaded) + size > self.capacity:
            _, victim = loaded.pop(0)
            pod[victim] |= {"state": "UNAVAILABLE", "reason": "evicted: least recently used"}
        pod[model] = {
            "state": "READY",
            "storage_uri": storage_uri,
            "memory": size,
            "last_used": self.clock,
        }

    def unregister(self, pod_ip: str, model: str) -> None:
        self.calls.append(("unregister", pod_ip, model))
        self._pod(pod_ip).pop(model, None)


def world(*isvcs: Obj, runtime: Obj | None = None) -> FakeKube:
    kube = FakeKube()
    kube.put(runtime or runtime_obj())
    for obj in isvcs:
        kube.put(obj)
    return kube


def start_pods(kube: FakeKube, count: int = 2, runtime: str = "pool") -> None:
    """What the StatefulSet controller and the kubelet would do: Ready pods with addresses."""
    for i in range(count):
        kube.put(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{names.pool(runtime)}-{i}",
                    "namespace": NS,
                    "labels": names.pool_labels(runtime),
                },
                "status": {
                    "phase": "Running",
                    "podIP": f"10.9.0.{i + 1}",
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )


def settle(reconciler: Reconciler, *isvcs: str) -> None:
    """The ISVC passes, the pool pass, and the ISVC passes again (what the queue would run)."""
    for name in isvcs:
        reconciler.run((ISVC, NS, name))
    reconciler.run((POOL, NS, "pool"))
    for name in isvcs:
        reconciler.run((ISVC, NS, name))


def status(kube: FakeKube, name: str) -> Obj:
    found: Obj = kube.get(ISVC, NS, name) or {}
    return found.get("status") or {}


def ready(kube: FakeKube, name: str) -> Obj:
    found: Obj = next(c for c in status(kube, name)["conditions"] if c["type"] == "Ready")
    return found


def test_pooled_models_get_no_deployment_and_are_placed_loaded_labelled_and_ready() -> None:
    kube = world(*(isvc_obj(f"m{i}") for i in range(4)))
    replicas = FakeReplicas()
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=replicas)
    models = [f"m{i}" for i in range(4)]
    settle(reconciler, *models)
    assert not kube.of_kind("Deployment") and not kube.of_kind("HorizontalPodAutoscaler")
    (statefulset,) = kube.of_kind("StatefulSet").values()
    owners = [o["name"] for o in statefulset["metadata"]["ownerReferences"]]
    assert owners == models
    waiting = ready(kube, "m0")  # no pods yet: says so
    assert waiting["reason"] == "PoolNotReady", waiting
    assert (
        "no ready replica to place it on in pool-pool (it has no pods yet)" in (waiting["message"])
    )
    start_pods(kube)
    settle(reconciler, *models)
    pods = kube.of_kind("Pod")
    held = {
        m: sorted(p for p, pod in pods.items() if names.model_label(m) in pod["metadata"]["labels"])
        for m in models
    }
    assert all(len(h) == 1 for h in held.values()), held
    assert sorted(h[0] for h in held.values()) == ["pool-pool-0"] * 2 + ["pool-pool-1"] * 2
    for m in models:
        assert ready(kube, m)["status"] == "True", status(kube, m)
        model_status = status(kube, m)["modelStatus"]
        assert model_status["states"]["activeModelState"] == "Loaded"
        assert model_status["placement"]["replicas"] == held[m]
        assert status(kube, m)["url"] == f"http://{m}-{NS}.example.com"
        service = kube.get("Service", NS, f"{m}-predictor") or {}
        assert service["spec"]["selector"] == {
            names.POOL_LABEL: "pool",
            names.model_label(m): "true",
        }
    calls = len(replicas.calls)
    settle(reconciler, *models)
    assert len(replicas.calls) == calls  # nothing changed: nothing loaded again


def test_an_evicted_model_is_ready_and_unloaded_and_a_restarted_replica_gets_its_models_back() -> (
    None
):
    kube = world(*(isvc_obj(f"m{i}") for i in range(6)))
    replicas = FakeReplicas(capacity=25 * MI)  # two 10Mi models per replica
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=replicas)
    models = [f"m{i}" for i in range(6)]
    start_pods(kube)
    settle(reconciler, *models)
    states = {m: status(kube, m)["modelStatus"]["states"]["activeModelState"] for m in models}
    assert sorted(states.values()) == ["Loaded"] * 4 + ["Unloaded"] * 2, states
    assert all(ready(kube, m)["status"] == "True" for m in models)
    loads = [c for c in replicas.calls if c[0] == "load"]
    assert len(loads) == 6  # evicted models are not loaded again by the operator
    replicas.registry["10.9.0.1"] = {}  # the server on pool-0 restarted: empty
    settle(reconciler, *models)
    assert len([c for c in replicas.calls if c[0] == "load"]) == 9
    assert all(ready(kube, m)["status"] == "True" for m in models)


def test_a_model_that_fails_to_load_says_why_and_a_deleted_one_is_unregistered() -> None:
    kube = world(isvc_obj("good"), isvc_obj("bad"))
    replicas = FakeReplicas(broken={"bad"})
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=replicas)
    start_pods(kube)
    settle(reconciler, "good", "bad")
    bad = status(kube, "bad")
    assert ready(kube, "bad")["status"] == "False"
    assert bad["modelStatus"]["states"]["activeModelState"] == "FailedToLoad"
    assert bad["modelStatus"]["lastFailureInfo"]["reason"] == "ModelLoadFailed"
    assert "bad onnx" in bad["modelStatus"]["lastFailureInfo"]["message"]
    assert ready(kube, "good")["status"] == "True"
    kube.delete(ISVC, NS, "bad")
    reconciler.run((POOL, NS, "pool"))
    assert ("unregister", "10.9.0.1", "bad") in replicas.calls or (
        "unregister",
        "10.9.0.2",
        "bad",
    ) in replicas.calls
    kube.delete(ISVC, NS, "good")
    reconciler.run((POOL, NS, "pool"))
    assert not kube.of_kind("StatefulSet")  # no member left: the pool goes


def test_unreachable_replicas_are_named_in_the_status() -> None:
    kube = world(isvc_obj("m"))
    replicas = FakeReplicas(down={"10.9.0.1", "10.9.0.2"})
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=replicas)
    start_pods(kube)
    settle(reconciler, "m")
    cond = ready(kube, "m")
    assert cond["status"] == "False" and cond["reason"] == "PoolNotReady", cond
    assert "pool-pool-0: unreachable: no answer from 10.9.0.1" in cond["message"]


@pytest.mark.parametrize(
    ("predictor", "why"),
    [
        ({"canaryTrafficPercent": 10}, "canaryTrafficPercent"),
        ({"minReplicas": 0}, "minReplicas 0"),
        ({"minReplicas": 1, "maxReplicas": 3}, "maxReplicas"),
        ({"timeout": 5}, "timeout: server settings"),
        ({"nodeSelector": {"a": "b"}}, "nodeSelector: pod settings"),
    ],
)
def test_what_a_pool_cannot_do_is_refused_in_the_status(predictor: Obj, why: str) -> None:
    obj = isvc_obj("m", **predictor)
    kube = world(obj)
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=FakeReplicas())
    reconciler.run((ISVC, NS, "m"))
    cond = ready(kube, "m")
    assert cond["reason"] == "InvalidPredictorSpec" and why in cond["message"], cond
    assert "on multi-model runtime pool" in cond["message"]
    assert not kube.of_kind("Service") and not kube.of_kind("Deployment")


def test_other_storage_and_model_settings_are_refused() -> None:
    obj = isvc_obj("m")
    obj["spec"]["predictor"]["model"] |= {
        "storageUri": "pvc://models/m",
        "args": ["--x"],
        "resources": {"limits": {"memory": "1Gi"}},
    }
    kube = world(obj)
    Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=FakeReplicas()).run((ISVC, NS, "m"))
    message = ready(kube, "m")["message"]
    for why in ("storageUri pvc://", "model.args", "only requests.memory"):
        assert why in message, message


def test_a_member_switching_to_a_pool_loses_its_deployment() -> None:
    obj = isvc_obj("m")
    kube = world(obj)
    kube.put(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "m-predictor-12345678",
                "namespace": NS,
                "labels": names.component_labels("m", names.PREDICTOR),
                "ownerReferences": [{"uid": "uid-m", "kind": ISVC, "name": "m"}],
            },
        }
    )
    Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=FakeReplicas()).run((ISVC, NS, "m"))
    assert not kube.of_kind("Deployment")
    assert "m-predictor" in kube.of_kind("Service")


def test_copies_go_to_distinct_replicas() -> None:
    obj = isvc_obj("m", minReplicas=2)
    kube = world(copy.deepcopy(obj))
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=FakeReplicas())
    start_pods(kube)
    settle(reconciler, "m")
    placement = status(kube, "m")["modelStatus"]["placement"]
    assert placement["replicas"] == ["pool-pool-0", "pool-pool-1"]


def test_a_ready_replica_that_does_not_answer_moves_nothing_and_keeps_its_labels() -> None:
    kube = world(*(isvc_obj(f"m{i}") for i in range(4)))
    replicas = FakeReplicas()
    reconciler = Reconciler(kube, CONFIG, clock=lambda: NOW, replicas=replicas)
    models = [f"m{i}" for i in range(4)]
    start_pods(kube)
    settle(reconciler, *models)
    labels = {n: dict(p["metadata"]["labels"]) for n, p in kube.of_kind("Pod").items()}
    calls = len(replicas.calls)
    replicas.down.add("10.9.0.1")  # busy (or its network), still Ready to the kubelet
    settle(reconciler, *models)
    assert {n: p["metadata"]["labels"] for n, p in kube.of_kind("Pod").items()} == labels
    assert len(replicas.calls) == calls  # nothing loaded elsewhere meanwhile
    for m in models:
        assert ready(kube, m)["status"] == "True", ready(kube, m)
