"""Every name and label of the objects the operator creates, in one place."""

from __future__ import annotations

import hashlib

from modelplane.api import GROUP
from modelplane.api import STORAGE_SECRET_ANNOTATION as STORAGE_SECRET_ANNOTATION
from modelplane.operator.kinds import GRAPH

FIELD_MANAGER = "modelplane"
# The idle clock's and the activator's writes of a scale-to-zero Deployment's replicas.
SCALER_FIELD_MANAGER = "modelplane-scaler"

# Labels on every child; the owner label selects children for pruning.
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "modelplane"
ISVC_LABEL = f"{GROUP}/inferenceservice"
GRAPH_LABEL = f"{GROUP}/inferencegraph"
COMPONENT_LABEL = f"{GROUP}/component"
# On a revision's Deployment, Service, HPA and pods: the revision's name.
REVISION_LABEL = f"{GROUP}/revision"

# Pod-template annotation whose change rolls the router when its graph changes.
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"

# Scale to zero: the label on a component's Service when it may idle to 0 replicas (the
# activator and the idle clock list these), and the annotations that tell them what to do.
SCALE_TO_ZERO_LABEL = f"{GROUP}/scale-to-zero"
SCALE_TARGET_ANNOTATION = f"{GROUP}/scale-target"  # the Deployment to wake or idle
IDLE_AFTER_ANNOTATION = f"{GROUP}/scale-to-zero-after"  # seconds without requests
HOSTS_ANNOTATION = f"{GROUP}/hosts"  # Host headers that mean this Service (comma-separated)
# The activator port that relays its gRPC at zero (`relay_ports`).
RELAY_PORT_ANNOTATION = f"{GROUP}/activator-grpc-port"
# On a Deployment the idle clock is handing to the activator: its Service already points at
# the activator while its pods still serve, so the proxies switch before the pods go.
PARKED_ANNOTATION = f"{GROUP}/parked"
# EndpointSlices the operator writes for a Service at zero (it points them at the activator).
SLICE_SERVICE_LABEL = "kubernetes.io/service-name"
SLICE_MANAGER_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_MANAGER_VALUE = f"operator.{GROUP}"

# Multi-model pools (issue 16): the pool's objects and pods carry the pool label (the runtime's
# name); a pod assigned model NAME also carries `model.serving.modelplane.io/NAME: "true"`, which
# the model's predictor Service selects. The pool's StatefulSet records what the last pool pass
# saw of each model (JSON) in the placement annotation, for the models' status.
POOL_LABEL = f"{GROUP}/pool"
MODEL_LABEL_PREFIX = f"model.{GROUP}/"
PLACEMENT_ANNOTATION = f"{GROUP}/placement"
POOL = "pool"
# Field manager of the pool pass's own writes (pod labels, the placement annotation), apart
# from the apply's, so an apply never takes them away.
POOL_FIELD_MANAGER = "modelplane-pool"

PREDICTOR = "predictor"
TRANSFORMER = "transformer"
ROUTER = "router"

MODEL_DIR = "/mnt/models"
HTTP_PORT = 8080
GRPC_PORT = 8081
SERVICE_HTTP_PORT = 80

_MAX_NAME = 63


def bounded(base: str, suffix: str) -> str:
    """`{base}-{suffix}`, shortened with a stable hash when over the 63-character DNS limit."""
    name = f"{base}-{suffix}"
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    keep = _MAX_NAME - len(suffix) - len(digest) - 2
    return f"{base[:keep].rstrip('-')}-{digest}-{suffix}"


def component(isvc: str, part: str) -> str:
    """Deployment, Service and HPA name of one component of an InferenceService."""
    return bounded(isvc, part)


def revision(isvc: str, part: str, template_hash: str) -> str:
    """Deployment, Service and HPA name of one revision of a component: the component's name
    and the first 8 hex digits of the hash of its rendered pod template."""
    return bounded(isvc, f"{part}-{template_hash[:8]}")


def router(graph: str) -> str:
    """Deployment, Service and HPA name of an InferenceGraph's router."""
    return bounded(graph, ROUTER)


def graph_config(graph: str) -> str:
    """ConfigMap holding an InferenceGraph's resolved graph file."""
    return bounded(graph, "graph")


def pool(runtime: str) -> str:
    """StatefulSet and headless Service of a runtime's pool in one namespace."""
    return bounded(runtime, POOL)


def pool_key(runtime: str) -> str:
    """The pool label's value for a runtime: its name, hashed when over 63 characters."""
    if len(runtime) <= _MAX_NAME:
        return runtime
    return f"{runtime[:54].rstrip('-.')}-{hashlib.sha256(runtime.encode()).hexdigest()[:8]}"


def pool_labels(runtime: str) -> dict[str, str]:
    """Labels of a pool's objects and pods (also the pool's pod selector)."""
    return {MANAGED_BY: MANAGED_BY_VALUE, POOL_LABEL: pool_key(runtime), COMPONENT_LABEL: POOL}


def model_label(model: str) -> str:
    """The pod label that says a pool replica holds the model."""
    return f"{MODEL_LABEL_PREFIX}{model}"


def pool_selector(runtime: str) -> str:
    """Label selector of one pool's objects and pods."""
    return ",".join(f"{k}={v}" for k, v in pool_labels(runtime).items())


def ingress(owner: str) -> str:
    """Ingress of an InferenceService or InferenceGraph: the owner's own name."""
    return owner


def route(owner: str) -> str:
    """HTTPRoute of an InferenceService or InferenceGraph (Gateway mode): the owner's name."""
    return owner


def host(owner: str, namespace: str, domain: str) -> str:
    """External host name: `{name}-{namespace}.{domain}`."""
    return f"{owner}-{namespace}.{domain}"


def activator_slice(service: str) -> str:
    """EndpointSlice sending a Service at zero to the activator."""
    return bounded(service, "activator")


def service_hosts(service: str, namespace: str) -> list[str]:
    """Every Host header a client inside the cluster may send to reach a Service by name."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        cluster_host(service, namespace),
    ]


def cluster_host(service: str, namespace: str) -> str:
    """In-cluster DNS name of a Service."""
    return f"{service}.{namespace}.svc.cluster.local"


def infer_path(model: str) -> str:
    """V2 infer path of a model."""
    return f"/v2/models/{model}/infer"


def component_labels(isvc: str, part: str) -> dict[str, str]:
    """Labels of one InferenceService component's objects and pods (also its pod selector)."""
    return {MANAGED_BY: MANAGED_BY_VALUE, ISVC_LABEL: isvc, COMPONENT_LABEL: part}


def revision_labels(isvc: str, part: str, revision_name: str) -> dict[str, str]:
    """Labels of one revision's objects and pods (also the revision Service's selector)."""
    return {**component_labels(isvc, part), REVISION_LABEL: revision_name}


def router_labels(graph: str) -> dict[str, str]:
    """Labels of an InferenceGraph router's objects and pods (also its pod selector)."""
    return {MANAGED_BY: MANAGED_BY_VALUE, GRAPH_LABEL: graph, COMPONENT_LABEL: ROUTER}


def owner_selector(kind: str, name: str) -> str:
    """Label selector of every child of one owner, for listing and pruning."""
    label = GRAPH_LABEL if kind == GRAPH else ISVC_LABEL
    return f"{MANAGED_BY}={MANAGED_BY_VALUE},{label}={name}"
