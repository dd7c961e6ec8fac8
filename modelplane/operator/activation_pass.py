"""The live side of scale to zero in a pass: is a predictor at zero (or parked), where is
the activator, which activator port relays its gRPC; and, at zero, deleting the endpoints the
controllers leave behind. The render (`render.activation`) is pure; this reads and deletes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from modelplane.operator import names, relay_ports
from modelplane.operator.config import OperatorConfig
from modelplane.operator.kube import Kube
from modelplane.operator.render.activation import Activation
from modelplane.operator.targets import ready_addresses

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def activator_addresses(kube: Kube, config: OperatorConfig) -> tuple[str, ...]:
    """Ready IPs behind the activator's Service (config `activatorService`), sorted."""
    if not config.activator_service or "/" not in config.activator_service:
        return ()
    namespace, name = config.activator_service.split("/", 1)
    selector = f"{names.SLICE_SERVICE_LABEL}={name}"
    return ready_addresses(kube.list("EndpointSlice", namespace, selector))


def is_activator_slice(item: Obj) -> bool:
    """An EndpointSlice the operator wrote for a Service at zero (not the controller's)."""
    labels = item["metadata"].get("labels") or {}
    return labels.get(names.SLICE_MANAGER_LABEL) == names.SLICE_MANAGER_VALUE


class ActivationPass:
    """A pass's reads and deletes for predictors with minReplicas 0."""

    def __init__(self, kube: Kube, config: OperatorConfig, namespaces: Sequence[str] = ()) -> None:
        self.kube = kube
        self.config = config
        self.namespaces = tuple(namespaces)  # the operator's scope (all when empty)

    def live(self, namespace: str, name: str, deployment: str) -> Activation:
        """For a component that scales to zero (its Service `name`, the Deployment the idle
        clock and the activator scale): is it at zero (or parked), where is the activator."""
        relay = self._relay_port(namespace, name)
        live = self.kube.get("Deployment", namespace, deployment)
        parked = names.PARKED_ANNOTATION in ((live or {}).get("metadata") or {}).get(
            "annotations", {}
        )
        if live is not None and (parked or (live.get("spec") or {}).get("replicas") == 0):
            addresses = activator_addresses(self.kube, self.config)
            return Activation(at_zero=True, addresses=addresses, relay_port=relay)
        # Woken: the activator's slice goes only once the controller's slice has a ready pod.
        slices = self.kube.list("EndpointSlice", namespace, f"{names.SLICE_SERVICE_LABEL}={name}")
        ours = [s for s in slices if is_activator_slice(s)]
        routed = any(ready_addresses([s]) for s in slices if not is_activator_slice(s))
        if ours and not routed:
            addresses = activator_addresses(self.kube, self.config)
            return Activation(bridging=True, addresses=addresses, relay_port=relay)
        return Activation(relay_port=relay)

    def _relay_port(self, namespace: str, service: str) -> int:
        """The activator port relaying this Service's gRPC at zero: the one it has unless a
        Service that sorts first claims it too, else a free one (`relay_ports`)."""
        selector = f"{names.SCALE_TO_ZERO_LABEL}=true"
        marked: list[Obj] = []
        for scope in self.namespaces or (None,):
            marked += self.kube.list("Service", scope, selector)
        key = relay_ports.service_key(namespace, service)
        current: int | None = None
        annotated = []
        for item in marked:
            meta = item.get("metadata") or {}
            value = (meta.get("annotations") or {}).get(names.RELAY_PORT_ANNOTATION)
            other = relay_ports.service_key(
                meta.get("namespace") or "default", meta.get("name") or ""
            )
            if other == key:
                current = relay_ports.parse(value)
            else:
                annotated.append((other, value))
        return relay_ports.relay_port(key, current, relay_ports.claims(annotated))

    def drop_controller_slices(self, namespace: str, service: str) -> None:
        """At zero, the endpoints of the component's Service are the activator's slice only.

        The EndpointSlice controller leaves its slices behind when a Service loses its
        selector (it stops managing them; their endpoints would go stale), and the endpoints
        controller its v1 Endpoints, which the mirroring controller would turn into another
        stale slice: delete them all.
        """
        # the v1 Endpoints the endpoints controller leaves: mirrored into a stale slice otherwise
        self.kube.delete_endpoints(namespace, service)
        selector = f"{names.SLICE_SERVICE_LABEL}={service}"
        for item in self.kube.list("EndpointSlice", namespace, selector):
            if not is_activator_slice(item):
                log.info(
                    "deleting EndpointSlice %s: %s is at zero", item["metadata"]["name"], service
                )
                self.kube.delete(
                    "EndpointSlice", namespace, item["metadata"]["name"], item["metadata"]["uid"]
                )
