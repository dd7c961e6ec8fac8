"""Service and route (Ingress, or Gateway API HTTPRoute) of a component or router (pure)."""

from __future__ import annotations

from modelplane.api import Resource
from modelplane.operator import names
from modelplane.operator.config import OperatorConfig
from modelplane.operator.render.meta import Obj, child, namespace_of

GATEWAY_API_VERSION = "gateway.networking.k8s.io/v1"


def service(name: str, owner: Resource, labels: dict[str, str], grpc: bool = True) -> Obj:
    """ClusterIP Service: http 80 -> 8080 and, for model servers and routers, gRPC 8081 (h2c)."""
    ports: list[Obj] = [
        {
            "name": "http",
            "port": names.SERVICE_HTTP_PORT,
            "targetPort": names.HTTP_PORT,
            "protocol": "TCP",
        },
    ]
    if grpc:
        ports.append(
            {
                "name": "grpc",
                "port": names.GRPC_PORT,
                "targetPort": names.GRPC_PORT,
                "protocol": "TCP",
                "appProtocol": "kubernetes.io/h2c",
            }
        )
    obj = child("v1", "Service", name, owner, labels)
    obj["spec"] = {"type": "ClusterIP", "selector": dict(labels), "ports": ports}
    return obj


def service_url(service_name: str, owner: Resource) -> str:
    """In-cluster URL of a Service's http port."""
    return f"http://{names.cluster_host(service_name, namespace_of(owner))}"


def external_url(owner: Resource, config: OperatorConfig) -> str | None:
    """The URL the Ingress serves, when an ingress domain is configured."""
    if not config.ingress_domain:
        return None
    host = names.host(owner.metadata.name or "", namespace_of(owner), config.ingress_domain)
    return f"{config.url_scheme}://{host}"


def ingress(
    owner: Resource, labels: dict[str, str], backend: str, config: OperatorConfig
) -> Obj | None:
    """Ingress `{name}-{namespace}.{domain}` -> the entry Service; None without a domain."""
    if not config.ingress_domain:
        return None
    name = owner.metadata.name or ""
    obj = child("networking.k8s.io/v1", "Ingress", names.ingress(name), owner, labels)
    spec: Obj = {
        "rules": [
            {
                "host": names.host(name, namespace_of(owner), config.ingress_domain),
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": backend,
                                    "port": {"number": names.SERVICE_HTTP_PORT},
                                }
                            },
                        }
                    ]
                },
            }
        ]
    }
    if config.ingress_class:
        spec["ingressClassName"] = config.ingress_class
    obj["spec"] = spec
    return obj


def http_route(
    owner: Resource, labels: dict[str, str], backends: list[tuple[str, int]], config: OperatorConfig
) -> Obj | None:
    """HTTPRoute `{name}-{namespace}.{domain}` on the configured Gateway -> weighted Services.

    `backends` are (Service, weight) pairs; None without a Gateway (or a domain).
    """
    if config.gateway is None or not config.ingress_domain:
        return None
    name = owner.metadata.name or ""
    obj = child(GATEWAY_API_VERSION, "HTTPRoute", names.route(name), owner, labels)
    obj["spec"] = {
        "parentRefs": [
            {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": config.gateway.name,
                "namespace": config.gateway.namespace,
            }
        ],
        "hostnames": [names.host(name, namespace_of(owner), config.ingress_domain)],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [
                    {
                        "group": "",
                        "kind": "Service",
                        "name": backend,
                        "port": names.SERVICE_HTTP_PORT,
                        "weight": weight,
                    }
                    for backend, weight in backends
                ],
            }
        ],
    }
    return obj


def entry_route(
    owner: Resource,
    labels: dict[str, str],
    entry: str,
    backends: list[tuple[str, int]],
    config: OperatorConfig,
) -> Obj | None:
    """The owner's external route: an HTTPRoute over `backends` in Gateway mode, else an
    Ingress to the `entry` Service (which cannot weigh backends portably); None without a
    domain."""
    if config.gateway is not None:
        return http_route(owner, labels, backends, config)
    return ingress(owner, labels, entry, config)
