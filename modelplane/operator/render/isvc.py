"""Children of an InferenceService: per component a Deployment, Service and HPA; the route.

The predictor has revisions: each rendered pod template is a Deployment (with its own Service
and HPA) named from the template's hash; the component's Service selects every revision.
Which revisions serve, and how much, is a `TrafficPlan` decided outside (`traffic`).
"""

from __future__ import annotations

import hashlib
import json

from modelplane.api import (
    ComponentSpec,
    InferenceService,
    ModelSpec,
    PredictorSpec,
    ServingRuntime,
)
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render import pod
from modelplane.operator.render.activation import Activation, require_activator, scale_to_zero
from modelplane.operator.render.autoscaling import Scaling, hpa
from modelplane.operator.render.gpu import gpu_taint_keys, requested_resources, toleration
from modelplane.operator.render.meta import Obj, child, namespace_of
from modelplane.operator.render.network import entry_route, service, service_url
from modelplane.operator.render.server_args import (
    load_failure_flags,
    model_flags,
    substitute,
    tuning_flags,
)
from modelplane.operator.render.storage import ModelStorage, model_storage
from modelplane.operator.traffic import TrafficPlan, single

# The kinds each revision of a component has (an HPA only when autoscaled).
REVISION_KINDS = ("Deployment", "Service", "HorizontalPodAutoscaler")

DEFAULT_CONTAINER = "kserve-container"


def render_inference_service(
    isvc: InferenceService,
    runtime: ServingRuntime | None,
    config: OperatorConfig,
    plan: TrafficPlan | None = None,
    activation: Activation | None = None,
) -> list[Obj]:
    """Every child object of the InferenceService, in apply order.

    `runtime` is the selected ServingRuntime for a model predictor (None for custom
    containers); a model predictor without one is a caller error. `plan` says which predictor
    revisions serve (default: the latest alone); only the latest revision is rendered, the
    plan's other revision keeps its live objects (`kept_revision_objects`).
    `activation` is the live state of a predictor with minReplicas 0 (at zero or parked, or
    woken; the activator's addresses).
    """
    name = isvc.metadata.name or ""
    latest, objects = predictor_revision(isvc, runtime, config)
    plan = plan or single(latest)
    if plan.latest != latest:
        raise ValueError(f"the plan is for revision {plan.latest}, the spec renders {latest}")
    entry = names.component(name, names.PREDICTOR)
    if isvc.spec.predictor.scales_to_zero:
        objects += predictor_to_zero(isvc, latest, objects, activation or Activation(), config)
    backends = [(revision, percent) for revision, percent in plan.targets if percent > 0]
    transformer = isvc.spec.transformer
    if transformer is not None:
        upstream = names.component(name, names.PREDICTOR)
        env = [
            {"name": "PREDICTOR_HOST", "value": names.cluster_host(upstream, namespace_of(isvc))},
            {"name": "PREDICTOR_URL", "value": service_url(upstream, isvc)},
            {"name": "MODEL_NAME", "value": name},
        ]
        transformer_pod = custom_pod_spec(transformer, config, env)
        objects += component(isvc, names.TRANSFORMER, transformer, transformer_pod, None, config)
        entry = names.component(name, names.TRANSFORMER)
        backends = [(entry, 100)]
    route = entry_route(isvc, owner_labels(name), entry, backends, config)
    if route is not None:
        objects.append(route)
    return objects


def predictor_revision(
    isvc: InferenceService, runtime: ServingRuntime | None, config: OperatorConfig
) -> tuple[str, list[Obj]]:
    """The latest predictor revision's name and objects: its Deployment, Service and HPA, then
    the component's Service over every revision."""
    name = isvc.metadata.name or ""
    predictor = isvc.spec.predictor
    predictor_pod = predictor_pod_spec(isvc, runtime, config)
    deployment, component_service, *autoscaler = component(
        isvc, names.PREDICTOR, predictor, predictor_pod, runtime, config
    )
    revision = names.revision(name, names.PREDICTOR, template_hash(deployment["spec"]["template"]))
    labels = names.revision_labels(name, names.PREDICTOR, revision)
    deployment["metadata"] |= {"name": revision, "labels": dict(labels)}
    deployment["spec"]["selector"] = {"matchLabels": dict(labels)}
    deployment["spec"]["template"]["metadata"]["labels"][names.REVISION_LABEL] = revision
    for hpa_obj in autoscaler:
        hpa_obj["metadata"] |= {"name": revision, "labels": dict(labels)}
        hpa_obj["spec"]["scaleTargetRef"]["name"] = revision
    revision_service = service(revision, isvc, labels)
    return revision, [deployment, revision_service, *autoscaler, component_service]


def template_hash(template: Obj) -> str:
    """sha256 of a pod template's canonical JSON: equal templates, equal revisions."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def kept_revision_objects(plan: TrafficPlan) -> set[tuple[str, str]]:
    """(kind, name) of the objects of the plan's older revision: not pruned, though the spec
    no longer renders them (the rolled-out revision during a canary). The latest revision's
    objects are all rendered, so one it no longer has (an HPA) is pruned."""
    return {
        (kind, revision)
        for revision in plan.kept
        if revision != plan.latest
        for kind in REVISION_KINDS
    }


def predictor_to_zero(
    isvc: InferenceService,
    revision: str,
    objects: list[Obj],
    activation: Activation,
    config: OperatorConfig,
) -> list[Obj]:
    """Scale to zero of the predictor: its Service marked, the revision's Deployment the one
    the idle clock and the activator scale (`activation.scale_to_zero`)."""
    require_activator(config)
    if isvc.spec.predictor.canary_traffic_percent is not None:
        raise ValueError("minReplicas 0 cannot be combined with canaryTrafficPercent yet")
    name = isvc.metadata.name or ""
    namespace = namespace_of(isvc)
    service_name = names.component(name, names.PREDICTOR)
    hosts = names.service_hosts(service_name, namespace)
    if isvc.spec.transformer is None and config.ingress_domain:
        hosts.append(names.host(name, namespace, config.ingress_domain))
    (service_obj,) = [
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == service_name
    ]
    labels = names.component_labels(name, names.PREDICTOR)
    idle = isvc.spec.predictor.idle_seconds
    return scale_to_zero(service_obj, isvc, labels, revision, hosts, idle, activation, config)


def owner_labels(isvc_name: str) -> dict[str, str]:
    """Labels of the InferenceService-wide children (the Ingress)."""
    return {names.MANAGED_BY: names.MANAGED_BY_VALUE, names.ISVC_LABEL: isvc_name}


def component(
    isvc: InferenceService,
    part: str,
    spec: ComponentSpec,
    pod_spec: Obj,
    runtime: ServingRuntime | None,
    config: OperatorConfig,
) -> list[Obj]:
    """Deployment, Service and (when min < max) HPA of one component."""
    name = names.component(isvc.metadata.name or "", part)
    labels = names.component_labels(isvc.metadata.name or "", part)
    runtime_spec = runtime.spec if runtime is not None else None
    pod_labels = pod.merge_dicts(runtime_spec.labels if runtime_spec else None, spec.labels, labels)
    annotations = pod.merge_dicts(
        runtime_spec.annotations if runtime_spec else None, spec.annotations
    )
    scaling = Scaling(
        spec.min_replicas, spec.max_replicas, spec.scale_metric, spec.scale_target, "model"
    )
    envelope = child("apps/v1", "Deployment", name, isvc, labels)
    deployment = pod.deployment(
        name,
        envelope,
        labels,
        pod_spec,
        annotations,
        scaling.fixed_replicas,
        config.pre_stop_seconds,
    )
    deployment["spec"]["template"]["metadata"]["labels"] = pod_labels
    objects = [deployment, service(name, isvc, labels, grpc=part == names.PREDICTOR)]
    autoscaler = hpa(name, isvc, labels, scaling, config)
    if autoscaler is not None:
        objects.append(autoscaler)
    return objects


def predictor_pod_spec(
    isvc: InferenceService, runtime: ServingRuntime | None, config: OperatorConfig
) -> Obj:
    """The predictor's pod spec: a model on its runtime, or custom containers."""
    predictor = isvc.spec.predictor
    if predictor.model is None:
        return custom_pod_spec(predictor, config, [])
    if runtime is None:
        raise ValueError("a model predictor needs a selected ServingRuntime")
    return model_pod_spec(isvc, predictor, predictor.model, runtime, config)


def model_pod_spec(
    isvc: InferenceService,
    predictor: PredictorSpec,
    model: ModelSpec,
    runtime: ServingRuntime,
    config: OperatorConfig,
) -> Obj:
    """Pod spec of a model on a runtime: the runtime's server plus the model's settings."""
    name = isvc.metadata.name or ""
    secret = isvc.metadata.annotations.get(names.STORAGE_SECRET_ANNOTATION)
    storage = model_storage(model.storage_uri, config, secret)
    first, *sidecars = [c.to_dict() for c in runtime.spec.containers]
    resources = pod.merge_resources(
        config.default_resources,
        first.get("resources"),
        model.resources.to_dict() if model.resources else None,
    )
    taints = gpu_taint_keys(requested_resources(resources), config.gpu_resources)
    server = model_container(first, name, predictor, model, runtime, config, storage, resources)
    if taints:
        server["image"] = gpu_image(runtime, config)
    return pod_spec(
        [server, *(pod.restricted(c) for c in sidecars)],
        predictor,
        runtime,
        storage,
        [toleration(k) for k in taints],
    )


def model_container(
    base: Obj,
    isvc_name: str,
    predictor: PredictorSpec,
    model: ModelSpec,
    runtime: ServingRuntime,
    config: OperatorConfig,
    storage: ModelStorage,
    resources: Obj,
) -> Obj:
    """The serving container: runtime container + model args/env/resources + server flags."""
    runtime_args = [substitute(a, isvc_name) for a in base.get("args") or []]
    args = [
        *runtime_args,
        *model_flags(runtime_args, isvc_name, storage.model_dir),
        *load_failure_flags(runtime_args, base.get("terminationMessagePath")),
        *tuning_flags(predictor),
        *(model.args or []),
    ]
    container: Obj = {
        **base,
        "name": base.get("name") or DEFAULT_CONTAINER,
        "image": runtime.image(False) or config.model_server_image,
        "args": args,
        "env": pod.merge_env(
            base.get("env"), [e.to_dict() for e in model.env] if model.env else None
        ),
        "resources": resources,
        "ports": base.get("ports") or pod.default_ports(),
        "volumeMounts": [*(base.get("volumeMounts") or []), *storage.mounts],
        # The server's reason when it wrote one, else the end of its log.
        "terminationMessagePolicy": base.get("terminationMessagePolicy") or pod.LOG_ON_ERROR,
    }
    if base.get("command"):
        container["command"] = [substitute(c, isvc_name) for c in base["command"]]
    for probe, value in pod.v2_probes().items():
        container.setdefault(probe, value)
        if not container[probe]:
            container[probe] = value
    if config.image_pull_policy and "imagePullPolicy" not in base:
        container["imagePullPolicy"] = config.image_pull_policy
    return pod.restricted(pod.drop_empty(container))


def gpu_image(runtime: ServingRuntime, config: OperatorConfig) -> str:
    """The runtime's GPU image; the configured CUDA server for the stock CPU image."""
    image = runtime.image(True)
    if image == runtime.image(False) and image in (None, config.model_server_image):
        return config.model_server_gpu_image
    return image or config.model_server_gpu_image


def custom_pod_spec(
    spec: PredictorSpec | ComponentSpec, config: OperatorConfig, env: list[Obj]
) -> Obj:
    """Pod spec of user containers (custom predictor or transformer); `env` goes to the first."""
    containers = [c.to_dict() for c in getattr(spec, "containers", None) or []]
    rendered: list[Obj] = []
    taints: set[str] = set()
    for index, container in enumerate(containers):
        resources = pod.merge_resources(
            config.default_resources if index == 0 else None, container.get("resources")
        )
        taints |= set(gpu_taint_keys(requested_resources(resources), config.gpu_resources))
        item = {**container, "resources": resources}
        # the container's own message when it writes one, else the end of its log (status)
        item.setdefault("terminationMessagePolicy", pod.LOG_ON_ERROR)
        if index == 0:
            item["env"] = pod.merge_env(env, container.get("env"))
            item.setdefault("ports", pod.default_ports()[:1])
        rendered.append(pod.restricted(pod.drop_empty(item)))
    gpu_tolerations = [toleration(k) for k in sorted(taints)]
    return pod_spec(rendered, spec, None, ModelStorage(), gpu_tolerations)


def pod_spec(
    containers: list[Obj],
    spec: ComponentSpec,
    runtime: ServingRuntime | None,
    storage: ModelStorage,
    gpu_tolerations: list[Obj],
) -> Obj:
    """Scheduling merged from runtime and component, storage volumes, restricted security."""
    rt = runtime.spec if runtime is not None else None
    tolerations = pod.merge_tolerations(
        [t.to_dict() for t in rt.tolerations or []] if rt else None,
        [t.to_dict() for t in spec.tolerations or []],
        gpu_tolerations,
    )
    pull_secrets = pod.merge_tolerations(
        [s.to_dict() for s in rt.image_pull_secrets or []] if rt else None,
        [s.to_dict() for s in spec.image_pull_secrets or []],
    )
    return pod.drop_empty(
        {
            "containers": containers,
            "initContainers": storage.init_containers,
            "volumes": storage.volumes,
            "nodeSelector": pod.merge_dicts(rt.node_selector if rt else None, spec.node_selector),
            "tolerations": tolerations,
            "affinity": spec.affinity or (rt.affinity if rt else None),
            "serviceAccountName": spec.service_account_name,
            "imagePullSecrets": pull_secrets,
            "enableServiceLinks": False,
        }
    )
