"""Scale to zero in the rendered objects (pure): the marks on a component's Service that the
idle clock and the activator read, the Service without a selector while the component is at
zero, and the EndpointSlice that then sends its traffic to the activator."""

from __future__ import annotations

from dataclasses import dataclass

from modelplane.api import Resource
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.meta import Obj, child


@dataclass(frozen=True)
class Activation:
    """What a scale-to-zero component's render needs from the live world.

    `at_zero`: its Deployment has 0 replicas; `bridging`: it has replicas again but the
    EndpointSlice controller has not yet published a ready pod for its Service, so the
    activator's slice stays beside the selector (no moment without endpoints);
    `addresses`: the ready activator pods' IPs; `relay_port`: the activator port that
    relays its gRPC at zero (`relay_ports`), None where the pass has not picked one.
    """

    at_zero: bool = False
    bridging: bool = False
    addresses: tuple[str, ...] = ()
    relay_port: int | None = None


def require_activator(config: OperatorConfig) -> int:
    """The activator's port; a ValueError (InvalidPredictorSpec) when none is configured."""
    if not config.activator_service or not config.activator_port:
        raise ValueError(
            "minReplicas 0 needs the activator: the operator's activatorService and "
            "activatorPort settings are unset (the chart sets them)"
        )
    return config.activator_port


def mark(
    service: Obj, deployment: str, hosts: list[str], idle_seconds: int, relay_port: int | None
) -> None:
    """Label and annotate a scale-to-zero Service for the idle clock and the activator."""
    meta = service["metadata"]
    meta["labels"] = {**meta.get("labels", {}), names.SCALE_TO_ZERO_LABEL: "true"}
    meta["annotations"] = {
        **meta.get("annotations", {}),
        names.SCALE_TARGET_ANNOTATION: deployment,
        names.IDLE_AFTER_ANNOTATION: str(idle_seconds),
        names.HOSTS_ANNOTATION: ",".join(hosts),
    }
    if relay_port is not None:
        meta["annotations"][names.RELAY_PORT_ANNOTATION] = str(relay_port)


def park(service: Obj) -> None:
    """At zero: no selector, so the Service's endpoints are the activator's slice."""
    service["spec"].pop("selector", None)


def activator_slice(
    service: str,
    owner: Resource,
    labels: dict[str, str],
    activation: Activation,
    port: int,
) -> Obj:
    """EndpointSlice of a Service at zero: its http port on every ready activator pod at the
    activator's port, and its grpc port at the component's relay port (when it has one)."""
    slice_labels = {
        **labels,
        names.SLICE_SERVICE_LABEL: service,
        names.SLICE_MANAGER_LABEL: names.SLICE_MANAGER_VALUE,
    }
    obj = child(
        "discovery.k8s.io/v1", "EndpointSlice", names.activator_slice(service), owner, slice_labels
    )
    obj["addressType"] = "IPv4"
    obj["endpoints"] = [
        {"addresses": [address], "conditions": {"ready": True}}
        for address in sorted(activation.addresses)
    ]
    obj["ports"] = [{"name": "http", "port": port, "protocol": "TCP"}]
    if activation.relay_port is not None:
        obj["ports"].append({"name": "grpc", "port": activation.relay_port, "protocol": "TCP"})
    return obj


def scale_to_zero(
    service: Obj,
    owner: Resource,
    labels: dict[str, str],
    deployment: str,
    hosts: list[str],
    idle_seconds: int,
    activation: Activation,
    config: OperatorConfig,
) -> list[Obj]:
    """Mark a component's Service for the idle clock and the activator (`deployment` is what
    they scale); at zero, send it to the activator (no selector, an EndpointSlice). The extra
    objects to apply."""
    port = require_activator(config)
    if config.gateway is not None:
        raise ValueError(
            "minReplicas 0 needs the Ingress mode: with a gateway the HTTPRoute sends traffic "
            "to the components' Services, which the activator does not stand in for yet"
        )
    mark(service, deployment, hosts, idle_seconds, activation.relay_port)
    if not (activation.at_zero or activation.bridging):
        return []
    if activation.at_zero:
        park(service)
    return [activator_slice(service["metadata"]["name"], owner, labels, activation, port)]
