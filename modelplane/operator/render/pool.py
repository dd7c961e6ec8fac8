"""A multi-model runtime's pool in one namespace, and the objects of a model on it (pure).

The pool is a StatefulSet `<runtime>-pool` (stable names: status names the replica that holds
a model) with a headless Service of the same name. Each replica runs the runtime's first
container as a model server with an empty repository and its capacity flags; the operator
registers and loads models on it over HTTP (`pool_pass`). Its owners are the InferenceServices
that use it (none a controller), so it goes with the last of them even without the operator.

A model on the pool has no Deployment: its predictor Service selects the pool's pods that
carry its model label, and its Ingress (or HTTPRoute) points at that Service as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelplane.api import InferenceService, ServingRuntime, to_int
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render import pod
from modelplane.operator.render.gpu import gpu_taint_keys, requested_resources, toleration
from modelplane.operator.render.meta import Obj
from modelplane.operator.render.network import entry_route, service
from modelplane.operator.render.server_args import NAME_PLACEHOLDER
from modelplane.operator.render.storage import storage_env

STORE_VOLUME = "model-store"
ONE_MODEL_FLAGS = ("--model-name", "--model-dir")
REPOSITORY_FLAG = "--model-repository"
CAPACITY_FLAG = "--memory-capacity"
GPU_CAPACITY_FLAG = "--gpu-memory-capacity"


def pool_problems(runtime: ServingRuntime, config: OperatorConfig) -> list[str]:
    """Why the runtime cannot run as a pool; empty when it can."""
    why: list[str] = []
    first = runtime.spec.containers[0]
    args = [*(first.command or []), *(first.args or [])]
    if any(NAME_PLACEHOLDER in arg for arg in args):
        why.append(
            f"its container's args name one model ({NAME_PLACEHOLDER}); a pool loads "
            "many: remove the placeholder"
        )
    if any(arg.split("=", 1)[0] in ONE_MODEL_FLAGS for arg in args):
        why.append(
            "its container serves one model (--model-name or --model-dir); a pool "
            "starts empty and loads models by request: remove them"
        )
    capacity = runtime.spec.capacity
    if capacity is None:
        return [*why, "multiModel: true needs capacity.memory"]
    resources = first.resources.to_dict() if first.resources else {}
    limit = (resources.get("limits") or {}).get("memory")
    if limit is not None and to_int(limit) < capacity.memory_bytes:
        why.append(
            f"its container's memory limit {limit} is below capacity.memory "
            f"{capacity.memory}: the models could not all be loaded"
        )
    gpus = gpu_taint_keys(requested_resources(resources), config.gpu_resources)
    if capacity.gpu_memory is not None and not gpus:
        why.append(
            "capacity.gpuMemory needs a GPU: ask for one (nvidia.com/gpu) in the "
            "container's resources"
        )
    if gpus and capacity.gpu_memory is None:
        why.append("a GPU pool needs capacity.gpuMemory: the GPU memory its models may use")
    return why


def owner_references(members: Sequence[InferenceService]) -> list[Obj]:
    """Every member as an owner (none the controller): the pool goes with the last of them."""
    return [
        {
            "apiVersion": m.API_VERSION,
            "kind": m.KIND,
            "name": m.metadata.name,
            "uid": m.metadata.uid,
        }
        for m in sorted(members, key=lambda m: m.metadata.name or "")
        if m.metadata.uid
    ]


def render_pool(
    runtime: ServingRuntime,
    namespace: str,
    members: Sequence[InferenceService],
    config: OperatorConfig,
) -> list[Obj]:
    """The pool's StatefulSet and headless Service; ValueError when the runtime cannot run as
    a pool (`pool_problems`)."""
    problems = pool_problems(runtime, config)
    if problems:
        raise ValueError(f"runtime {runtime.metadata.name}: " + "; ".join(problems))
    runtime_name = runtime.metadata.name or ""
    name = names.pool(runtime_name)
    labels = names.pool_labels(runtime_name)
    meta: Obj = {"name": name, "namespace": namespace, "labels": dict(labels)}
    owners = owner_references(members)
    if owners:
        meta["ownerReferences"] = owners
    spec = runtime.spec
    pod_labels = pod.merge_dicts(spec.labels, labels)
    template: Obj = {
        "metadata": pod.drop_empty(
            {"labels": pod_labels, "annotations": pod.merge_dicts(spec.annotations)}
        ),
        "spec": pool_pod_spec(runtime, config),
    }
    statefulset: Obj = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta,
        "spec": {
            "serviceName": name,
            "replicas": spec.pool_replicas,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": dict(labels)},
            "template": template,
        },
    }
    headless: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**meta, "labels": dict(labels)},
        "spec": {
            "clusterIP": "None",
            "selector": dict(labels),
            "ports": [
                {"name": "http", "port": names.HTTP_PORT, "targetPort": names.HTTP_PORT},
                {"name": "grpc", "port": names.GRPC_PORT, "targetPort": names.GRPC_PORT},
            ],
        },
    }
    return [headless, statefulset]


def pool_pod_spec(runtime: ServingRuntime, config: OperatorConfig) -> Obj:
    """A pool replica's pod: the runtime's server, empty, with its capacity flags."""
    spec = runtime.spec
    capacity = spec.capacity
    assert capacity is not None  # pool_problems refused it
    first, *sidecars = [c.to_dict() for c in spec.containers]
    resources = pool_resources(first.get("resources"), capacity.memory_bytes, config)
    taints = gpu_taint_keys(requested_resources(resources), config.gpu_resources)
    args = list(first.get("args") or [])
    if not any(a.startswith(REPOSITORY_FLAG) for a in args):
        args.append(f"{REPOSITORY_FLAG}={names.MODEL_DIR}")
    args.append(f"{CAPACITY_FLAG}={capacity.memory_bytes}")
    if capacity.gpu_memory is not None:
        args.append(f"{GPU_CAPACITY_FLAG}={capacity.gpu_memory_bytes}")
    image = runtime.image(bool(taints)) or (
        config.model_server_gpu_image if taints else config.model_server_image
    )
    container: Obj = {
        **first,
        "image": image,
        "args": args,
        "env": pod.merge_env(first.get("env"), storage_env(config)),
        "resources": resources,
        "ports": first.get("ports") or pod.default_ports(),
        "volumeMounts": [
            *(first.get("volumeMounts") or []),
            {"name": STORE_VOLUME, "mountPath": names.MODEL_DIR},
        ],
        "terminationMessagePolicy": first.get("terminationMessagePolicy") or pod.LOG_ON_ERROR,
    }
    for probe, value in pod.v2_probes().items():
        if not container.get(probe):
            container[probe] = value
    if config.image_pull_policy and "imagePullPolicy" not in first:
        container["imagePullPolicy"] = config.image_pull_policy
    tolerations = pod.merge_tolerations(
        [t.to_dict() for t in spec.tolerations or []], [toleration(k) for k in taints]
    )
    return pod.drop_empty(
        {
            "containers": [
                pod.restricted(pod.drop_empty(container)),
                *(pod.restricted(c) for c in sidecars),
            ],
            "volumes": [{"name": STORE_VOLUME, "emptyDir": {}}],
            "nodeSelector": pod.merge_dicts(spec.node_selector),
            "tolerations": tolerations,
            "affinity": spec.affinity,
            "imagePullSecrets": [s.to_dict() for s in spec.image_pull_secrets or []],
            "enableServiceLinks": False,
        }
    )


def pool_resources(own: Obj | None, capacity: int, config: OperatorConfig) -> Obj:
    """The server's resources: the runtime's, over the operator's CPU defaults; memory, unless
    the runtime limits it, is the capacity plus the server's own overhead (request = limit, so
    the models' memory is the pod's and the kernel never takes it back under pressure)."""
    defaults = {
        key: {k: v for k, v in values.items() if k != "memory"}
        for key, values in config.default_resources.items()
    }
    resources = pod.merge_resources(defaults, own)
    if "memory" not in (resources.get("limits") or {}):
        memory = str(capacity + to_int(config.pool_memory_overhead))
        resources.setdefault("requests", {})["memory"] = memory
        resources.setdefault("limits", {})["memory"] = memory
    return resources


def render_pool_member(
    isvc: InferenceService, runtime: ServingRuntime, config: OperatorConfig
) -> list[Obj]:
    """A model on the pool: its predictor Service over the pool's pods that hold it, and the
    route to it."""
    name = isvc.metadata.name or ""
    entry = names.component(name, names.PREDICTOR)
    labels = names.component_labels(name, names.PREDICTOR)
    predictor = service(entry, isvc, labels)
    predictor["spec"]["selector"] = {
        names.POOL_LABEL: names.pool_key(runtime.metadata.name or ""),
        names.model_label(name): "true",
    }
    objects = [predictor]
    owner = {names.MANAGED_BY: names.MANAGED_BY_VALUE, names.ISVC_LABEL: name}
    route = entry_route(isvc, owner, entry, [(entry, 100)], config)
    if route is not None:
        objects.append(route)
    return objects
